"""The tiny study through the SLURM profile on a real one-node SLURM (tests/slurm_cluster.py).

Skipped where that SLURM cannot be started (no packages, not root, or a SLURM
of the machine's own), except under CI (the `CI` environment variable set, as
.ci/run sets it), where that is a failure with the reason: CI installs the packages.
"""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest
from conftest import (
    TINY,
    copy_workflow,
    inputs_overlay,
    skip_unless_ci,
    snakemake,
    write_overlay,
)
from slurm_cluster import LocalSlurm, machine_lock, unavailable_reason

pytestmark = [pytest.mark.slurm, pytest.mark.pipeline]
PROFILES = ["--profile", "profiles/slurm", "--workflow-profile", "profiles/test-slurm"]
# The Keras models are left out to keep CI time down: the GPU jobs of this test
# run one after another on the one (pretend) GPU, and the Keras jobs are the slow ones.
PYTORCH_ONLY = {
    "models": {
        "alexnet_scratch_keras": {"enabled": False},
        "mobilenetv2_pretrained_keras": {"enabled": False},
    }
}
CONFIG = [*TINY, "pytorch_only.yaml"]
MODELS = ["alexnet_scratch_pytorch", "alexnet_pretrained_pytorch"]
CLUSTER_RULES = ["prepare_data", "train_pytorch", "evaluate_pytorch"]
LOCAL_RULES = ["download_cifar", "fetch_weights", "aggregate", "plots", "report"]


# The longest another test process keeps its test SLURM: this whole module's run on a
# busy 2-core machine, with room to spare.
SLURM_WAIT_SECONDS = 1800


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with machine_lock(SLURM_WAIT_SECONDS):
        reason = unavailable_reason()
        if reason:
            skip_unless_ci(f"cannot start a test SLURM here: {reason}")
        cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
        try:
            yield cluster.start()  # a start that fails is an error everywhere
        finally:
            cluster.stop()


def all_jobs():
    """JobId -> fields of every job slurmctld still knows (finished ones for MinJobAge)."""
    lines = subprocess.run(
        ["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True
    ).stdout.splitlines()
    records = (dict(re.findall(r"(\S+?)=(\S*)", line)) for line in lines)
    return {record["JobId"]: record for record in records if "JobId" in record}


def run_recording_jobs(workdir, *args):
    """Run Snakemake while recording what SLURM says of each job it runs in `workdir`."""
    seen, result = {}, {}
    runner = threading.Thread(target=lambda: result.update(run=snakemake(workdir, *args)))
    runner.start()
    while runner.is_alive():
        seen.update(all_jobs())
        time.sleep(1)
    seen.update(all_jobs())
    if "run" not in result:
        raise AssertionError("Snakemake did not finish; see the captured output above")
    return result["run"], [job for job in seen.values() if job["WorkDir"] == str(workdir)]


def rule_and_wildcards(job):
    """(rule, wildcards) from the comment the executor plugin gives each job."""
    comment = job["Comment"]
    for rule in CLUSTER_RULES + LOCAL_RULES:
        if comment == f"rule_{rule}":
            return rule, ""
        if comment.startswith(f"rule_{rule}_wildcards_"):
            return rule, comment.removeprefix(f"rule_{rule}_wildcards_")
    raise AssertionError(f"job {job['JobId']} has an unknown comment {comment!r}")


def by_rule(jobs):
    found = {}
    for job in sorted(jobs, key=lambda j: int(j["JobId"])):
        found.setdefault(rule_and_wildcards(job), []).append(job)
    return found


# Fails the first training job once, from outside the workflow: a sitecustomize
# module on the jobs' PYTHONPATH (sbatch passes the environment on) that makes the
# first train_pytorch job's first "epoch 1/" log line raise, mid-training.
FAIL_FIRST_TRAINING_JOB = """
import logging, os, sys

handle = logging.Logger.handle

def fail_once(logger, record):
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if getattr(job, "rule", None) == "train_pytorch" and "epoch 1/" in record.getMessage():
        try:
            os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            raise RuntimeError("injected failure: the first training job fails once")
    return handle(logger, record)

logging.Logger.handle = fail_once
"""


@pytest.fixture(scope="module")
def slurm_run(slurm, tmp_path_factory, test_inputs):
    """The tiny PyTorch study through the SLURM profile; its first training job fails once."""
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm-run") / "wf")
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    write_overlay(workdir / "pytorch_only.yaml", PYTORCH_ONLY)
    marker = workdir.parent / "failed-once"
    hook = workdir.parent / "fail-once"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FAIL_FIRST_TRAINING_JOB.format(marker=str(marker)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(hook), prepend=os.pathsep)
        run, jobs = run_recording_jobs(workdir, *PROFILES, *CONFIG)
    assert marker.exists(), "the injected failure did not happen"
    return workdir, run, by_rule(jobs)


def slurm_log(workdir, job):
    """The SLURM log of a job (kept for successful jobs too: profiles/slurm), or None."""
    return next((workdir / ".snakemake/slurm_logs").rglob(f"{job['JobId']}.log"), None)


def test_each_cluster_job_is_its_own_sbatch_job(slurm_run):
    workdir, _, jobs = slurm_run
    expected = {("prepare_data", "")} | {
        (rule, f"{model}_0") for rule in CLUSTER_RULES[1:] for model in MODELS
    }
    assert set(jobs) == expected
    for (rule, _), submitted in jobs.items():
        assert submitted[-1]["JobState"] == "COMPLETED"
        gpus = [job.get("TresPerJob") for job in submitted]
        assert gpus == [None if rule == "prepare_data" else "gres:gpu:1"] * len(submitted)
    assert (workdir / "results/report.pdf").stat().st_size > 0


def test_jobs_take_the_gpu_slurm_gives_them(slurm_run):
    workdir, _, jobs = slurm_run
    for model in MODELS:
        last = jobs["train_pytorch", f"{model}_0"][-1]
        log = (workdir / f"results/logs/train/{model}/seed0.log").read_text()
        assert f"not assigning a GPU: SLURM job {last['JobId']} assigns GPUs" in log


def test_local_rules_run_on_the_host(slurm_run):
    workdir, run, jobs = slurm_run
    assert not {rule for rule, _ in jobs} & set(LOCAL_RULES)
    for rule in LOCAL_RULES:
        assert re.search(rf"^localrule {rule}:", run.stdout, re.M), rule
    assert (workdir / "results/tables/summary.csv").is_file()


def test_a_failed_training_job_is_retried_with_more_memory_and_keeps_its_log(slurm_run):
    workdir, run, jobs = slurm_run
    retried = {key: submitted for key, submitted in jobs.items() if len(submitted) > 1}
    assert len(retried) == 1
    ((rule, wildcards), (failed, retry)) = next(iter(retried.items()))
    assert rule == "train_pytorch"
    assert failed["JobState"] == "FAILED" and retry["JobState"] == "COMPLETED"
    # workflow/rules/train.smk: mem_mb and runtime are multiplied by the attempt
    failed_mb, retry_mb = (int(job["MinMemoryNode"].removesuffix("M")) for job in (failed, retry))
    assert retry_mb == 2 * failed_mb
    assert "injected failure" in run.stdout  # the failed job's log, shown by Snakemake
    assert slurm_log(workdir, retry), "the successful job's SLURM log was not kept"
    model = wildcards.removesuffix("_0")
    log = (workdir / f"results/logs/train/{model}/seed0.log").read_text()
    first_attempt, second_attempt = log.split("--- attempt 2,")
    assert f"SLURM job {failed['JobId']} assigns GPUs" in first_attempt
    assert "injected failure" in first_attempt and "injected" not in second_attempt
    assert f"SLURM job {retry['JobId']} assigns GPUs" in second_attempt
    assert not (workdir / f"results/logs/train/{model}/.seed0.log.attempts").exists()


def test_reruns_through_slurm_redo_only_what_changed(slurm_run, tmp_path):
    """One model's config changed, in a copy of the run: only its chain reruns on the cluster."""
    workdir = tmp_path / "wf"
    shutil.copytree(slurm_run[0], workdir, symlinks=True)
    assert "Nothing to be done" in snakemake(workdir, *PROFILES, "-n", *CONFIG).stdout
    untouched = workdir / "results/models/alexnet_pretrained_pytorch/seed0/checkpoint.pt"
    before = untouched.stat().st_mtime_ns
    changed = {"models": {"alexnet_scratch_pytorch": {"optimizer": {"name": "sgd", "lr": 0.01}}}}
    write_overlay(workdir / "changed.yaml", changed)
    _, jobs = run_recording_jobs(workdir, *PROFILES, *CONFIG, "changed.yaml")
    rerun = by_rule(jobs)  # the copy's jobs: only those of this run
    assert set(rerun) == {
        ("train_pytorch", "alexnet_scratch_pytorch_0"),
        ("evaluate_pytorch", "alexnet_scratch_pytorch_0"),
    }
    assert untouched.stat().st_mtime_ns == before
    assert (
        "Nothing to be done" in snakemake(workdir, *PROFILES, "-n", *CONFIG, "changed.yaml").stdout
    )


def node_memory_mb(slurm):
    return int(re.search(r"RealMemory=(\d+)", slurm.node())[1])


@pytest.mark.parametrize(
    "setting, value, named",
    [
        ("--set-threads", "train_pytorch={cpus}", "set-threads: train_pytorch"),
        ("--set-resources", "train_pytorch:mem_mb={node_mb}", "set-resources: train_pytorch"),
        # the first attempt fits; the retry doubles what the user set, past the node
        ("--set-resources", "train_pytorch:mem_mb={half_mb}*attempt", "the retry"),
    ],
)
def test_a_job_no_node_can_hold_stops_the_run_before_anything_is_submitted(
    slurm, tmp_path, test_inputs, setting, value, named
):
    workdir = copy_workflow(tmp_path / "wf")
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    write_overlay(workdir / "pytorch_only.yaml", PYTORCH_ONLY)
    node_mb = node_memory_mb(slurm)
    asks = value.format(cpus=os.cpu_count() + 1, node_mb=node_mb + 1, half_mb=node_mb // 2 + 1)
    # --cores (2 in conftest's snakemake) would scale the threads down to it
    run = snakemake(workdir, *PROFILES, *CONFIG, setting, asks, "--cores", "64", check=False)
    assert run.returncode != 0
    unfit = [line for line in run.stdout.splitlines() if line.startswith("train_pytorch (")]
    assert len(unfit) == 1 and named in unfit[0], run.stdout[-3000:]
    assert "nothing was submitted" in run.stdout
    assert not [job for job in all_jobs().values() if job["WorkDir"] == str(workdir)]
    assert not re.search(r"^localrule ", run.stdout, re.M)  # nor run here


def running_training_job(workdir):
    for job in all_jobs().values():
        if (
            job["WorkDir"] == str(workdir)
            and job["Comment"].startswith("rule_train_pytorch")
            and job["JobState"] == "RUNNING"
        ):
            return job["JobId"]
    return None


# Holds the first training job at its "epoch 1/" line (logged once epoch 1 is saved)
# until the test has cancelled it: the cancel lands mid-training at a known epoch, on
# an event the job emits, with no timing window.
PAUSE_AT_FIRST_EPOCH_LINE = """
import logging, os, sys, time

handle = logging.Logger.handle

def pause_once(logger, record):
    handled = handle(logger, record)
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    message = record.getMessage()
    epoch_line = message.startswith("epoch 1/") and " train_loss=" in message
    if getattr(job, "rule", None) == "train_pytorch" and epoch_line:
        try:
            os.close(os.open({paused!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return handled
        deadline = time.monotonic() + 600
        while not os.path.exists({released!r}) and time.monotonic() < deadline:
            time.sleep(0.1)
    return handled

logging.Logger.handle = pause_once
"""


def wait_for(what, condition, timeout=600):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.2)
    return found


def test_a_job_stopped_by_signal_is_resubmitted_and_resumes(slurm, tmp_path, test_inputs):
    """scancel --signal=TERM mid-training (to the job step, as docs/cluster.md says: a graceful
    stop): the retry on the cluster resumes from the state, its log after the first's."""
    workdir = copy_workflow(tmp_path / "wf")
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    model = "alexnet_scratch_pytorch"
    only_scratch = {
        "models": {
            model: {"epochs": 4},
            **{other: {"enabled": False} for other in MODELS[1:]},
            **PYTORCH_ONLY["models"],
        }
    }
    write_overlay(workdir / "pytorch_only.yaml", only_scratch)
    paused, released = tmp_path / "paused", tmp_path / "released"
    hook = tmp_path / "pause-at-epoch-1"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        PAUSE_AT_FIRST_EPOCH_LINE.format(paused=str(paused), released=str(released))
    )
    cancelled = []

    def cancel_at_first_epoch_line():
        try:
            wait_for("the epoch 1 line", lambda: paused.exists() or released.exists())
            if not paused.exists():
                return  # the run ended without reaching the line
            cancelled.append(wait_for("its SLURM job", lambda: running_training_job(workdir)))
            subprocess.run(["scancel", "--signal=TERM", cancelled[0]], check=True)
        finally:
            released.touch()

    canceller = threading.Thread(target=cancel_at_first_epoch_line)
    canceller.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(hook), prepend=os.pathsep)
        run, jobs = run_recording_jobs(workdir, *PROFILES, *CONFIG)
    released.touch()
    canceller.join()
    assert cancelled, "the training job was never cancelled"
    submitted = by_rule(jobs)["train_pytorch", f"{model}_0"]
    assert len(submitted) == 2 and submitted[-1]["JobState"] == "COMPLETED"
    assert submitted[0]["JobId"] in cancelled and submitted[0]["JobState"] != "COMPLETED"
    # The retry's job log starts with the first attempt's lines, then resumes.
    log = (workdir / f"results/logs/train/{model}/seed0.log").read_text()
    first_attempt, second_attempt = log.split("--- attempt 2,")
    assert "stopped by SIGTERM" in first_attempt
    assert "resuming after epoch 1 " in second_attempt
    assert (workdir / f"results/metrics/{model}/seed0.json").is_file()
    assert not (workdir / f"results/resume/{model}").exists()
