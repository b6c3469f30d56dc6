"""A throwaway single-node SLURM (munged, slurmctld, slurmd) for the tests.

Debian's slurmctld, slurmd, slurm-client and munge packages, run as root, with
no accounting database and one node on 127.0.0.1 that advertises one `gpu`
GRES backed by /dev/null. slurm.conf must sit at its default path
(/etc/slurm/slurm.conf): the jobstep plugin clears SLURM_CONF before its srun.
State and daemon output go to a scratch folder; the daemons listen on ports that were
free at start; stop() ends the daemons it started, by pid, and removes the config files
it wrote. /etc/slurm allows one such SLURM per machine: `machine_lock` makes test
processes (pytest-xdist workers, other checkouts' test sessions) take turns.
See ../shared/notes/local-slurm.md for why each setting is there.
"""

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF_DIR = Path("/etc/slurm")
MARK = "# Written by cifar-compare tests/slurm_cluster.py; removed when the tests end.\n"
TOOLS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol"]
PACKAGES = "slurmctld slurmd slurm-client munge"
MACHINE_LOCK = Path("/tmp/cifar-compare-test-slurm.lock")
MUNGE_SOCKET_DIR = Path("/run/munge")
# A training job's mem_mb at its second attempt (workflow/rules/train.smk: 8000 per attempt).
LARGEST_REQUEST_MB = 2 * 8000

SLURM_CONF = """\
ClusterName=cifarcompare
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={slurmctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
GresTypes=gpu
StateSaveLocation={state}/slurmctld
SlurmdSpoolDir={state}/slurmd
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
GRES_CONF = "NodeName={host} Name=gpu File=/dev/null\n"


def _free_ports(count):
    """`count` distinct ports free now (all held open while they are picked)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


@contextlib.contextmanager
def machine_lock(timeout):
    """Held while a test SLURM runs on this machine; waits up to `timeout` seconds for
    the holder (another test process) to finish with its SLURM."""
    with open(MACHINE_LOCK, "a") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another test process held {MACHINE_LOCK} (its test SLURM) "
                        f"for over {timeout} s"
                    ) from None
                time.sleep(1)
        yield


def unavailable_reason():
    """Why a test SLURM cannot be started here, or None if it can."""
    missing = [tool for tool in TOOLS if shutil.which(tool, path=_path()) is None]
    if missing:
        return f"no {', '.join(missing)}: install Debian's {PACKAGES} (as .ci/run does)"
    if os.geteuid() != 0:
        return "starting slurmd and slurmctld needs root"
    conf = CONF_DIR / "slurm.conf"
    if conf.exists() and not conf.read_text().startswith(MARK):
        return f"{conf} belongs to a SLURM set up on this machine; not replacing it"
    if _memory_mb() < LARGEST_REQUEST_MB:
        # A job asking for more than the node has would pend forever, the test with it.
        return (
            f"the node would have {_memory_mb()} MB, less than the {LARGEST_REQUEST_MB} MB "
            "a retried training job asks for"
        )
    return None


def _path():
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def _memory_mb():
    """Most of this machine's memory, so slurmd accepts the node's RealMemory."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages / 2**20 * 0.8)


def _munge_works():
    done = subprocess.run("munge -n | unmunge", shell=True, capture_output=True)
    return done.returncode == 0


class LocalSlurm:
    """Start with start(), stop with stop(); `host` is the node's name."""

    def __init__(self, state_dir):
        self.state = Path(state_dir)
        self.host = socket.gethostname().split(".")[0]
        self.daemons = {}  # name -> Popen, in start order
        self.written = []

    def start(self, timeout=60):
        self.state.mkdir(parents=True, exist_ok=True)
        self._write_config()
        if not _munge_works():
            self._start_munged()
            self._wait("munged answers", _munge_works, timeout)
        self._spawn("slurmctld", ["slurmctld", "-D"])
        self._wait(
            "slurmctld answers", lambda: self._run("scontrol", "ping").returncode == 0, timeout
        )
        self._spawn("slurmd", ["slurmd", "-D"])
        self._wait("the node is idle", lambda: "State=IDLE" in self.node(), timeout)
        if "Gres=gpu:1" not in self.node():
            # slurm 22.05 ignores Gres= on the NodeName line at start-up.
            self._run("scontrol", "update", f"nodename={self.host}", "gres=gpu:1", check=True)
        self._wait("the node has its GPU", lambda: "Gres=gpu:1" in self.node(), timeout)
        return self

    def stop(self):
        for process in reversed(list(self.daemons.values())):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.daemons.clear()
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()

    def node(self):
        """`scontrol show node` of the one node, on one line."""
        return self._run("scontrol", "show", "node", self.host, "--oneliner").stdout

    def _write_config(self):
        (self.state / "slurmctld").mkdir(exist_ok=True)
        (self.state / "slurmd").mkdir(exist_ok=True)
        slurmctld_port, slurmd_port = _free_ports(2)
        settings = {
            "host": self.host,
            "state": self.state,
            "cpus": os.cpu_count(),
            "memory_mb": _memory_mb(),
            "slurmctld_port": slurmctld_port,
            "slurmd_port": slurmd_port,
        }
        CONF_DIR.mkdir(parents=True, exist_ok=True)
        for name, template in [("slurm.conf", SLURM_CONF), ("gres.conf", GRES_CONF)]:
            path = CONF_DIR / name
            if name == "gres.conf" and path.exists() and not path.read_text().startswith(MARK):
                raise RuntimeError(f"{path} exists and was not written by the tests")
            path.write_text(MARK + template.format(**settings))
            self.written.append(path)

    def _start_munged(self):
        # munged refuses to run as root with its key and seed owned by munge.
        MUNGE_SOCKET_DIR.mkdir(exist_ok=True)
        shutil.chown(MUNGE_SOCKET_DIR, "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            subprocess.run(["mungekey", "--create"], check=True, env={"PATH": _path()})
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        self._spawn("munged", ["munged", "--foreground"], user="munge", group="munge")

    def _spawn(self, name, command, **user):
        output = open(self.state / f"{name}.out", "ab")
        self.daemons[name] = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PATH": _path()},
            **user,
        )
        output.close()

    def _run(self, *command, check=False):
        return subprocess.run(command, capture_output=True, text=True, check=check)

    def _wait(self, what, condition, timeout):
        deadline = time.monotonic() + timeout
        while not condition():
            exited = [name for name, p in self.daemons.items() if p.poll() is not None]
            if exited or time.monotonic() > deadline:
                reason = f"{', '.join(exited)} exited" if exited else f"{timeout} s passed"
                raise RuntimeError(f"test SLURM: {reason} before {what}\n{self._outputs()}")
            time.sleep(0.5)

    def _outputs(self):
        return "\n".join(
            f"--- {path.name}:\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.state.glob("*.out"))
        )
