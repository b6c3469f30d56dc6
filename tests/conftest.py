import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
import yaml

# torchvision (through torch._dynamo and triton) segfaults on import once
# TensorFlow is loaded in the same process; the tests use both, so load it first.
import torchvision.models  # noqa: F401  isort: skip
from cifar_fixtures import inputs_overlay, tiny_inputs_in, write_tiny_inputs  # noqa: F401
from workflow_copy import copy_workflow

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TINY = ["--configfile", "config/test.yaml", "inputs.yaml"]  # the tiny study on test inputs
# Two train/evaluate jobs at a time, one thread each: on a CPU-only machine the tiny
# jobs are mostly interpreter start-up and imports, which one thread does alone.
TWO_JOBS_AT_A_TIME = ["--resources", "gpu=2", "--max-threads", "1"]


# What makes a test slow (`pytest -m "not slow"` is the inner loop; docs/development.md):
# Snakemake jobs end to end (`pipeline`, which every test on `tiny_run` is), SLURM, the
# real data or the benchmark scripts. Dry runs and config checks are not slow.
SLOW_MARKERS = ("pipeline", "slurm", "realdata", "bench")
GPU_LOCK_DIR_ENV = "CIFAR_COMPARE_GPU_LOCK_DIR"  # cifar_compare/runtime/gpu_slots.py


def pytest_configure(config):
    # GPU slot files of this test process's own, not the user's real runs' folder in /tmp
    # (the autouse fixture below gives each test one of its own).
    folder = tempfile.mkdtemp(prefix="cifar-compare-test-gpu-slots-")
    os.environ[GPU_LOCK_DIR_ENV] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def pytest_collection_modifyitems(items):
    # Modules with SLURM tests first, then those with slow tests, so that workers start
    # on the long ones and the quick ones fill in (`--dist loadfile` hands out modules in
    # this order with --no-loadscope-reorder); a module keeps its test order.
    rank = {}
    for item in items:
        if "tiny_run" in item.fixturenames:
            item.add_marker(pytest.mark.pipeline)
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)
        own = 0 if item.get_closest_marker("slurm") else 1 if item.get_closest_marker("slow") else 2
        rank[item.path] = min(rank.get(item.path, 2), own)
    items.sort(key=lambda item: rank[item.path])


@pytest.fixture(autouse=True)
def own_gpu_lock_folder(tmp_path_factory, monkeypatch):
    """Each test's GPU slots in a folder of its own: no test waits on another's slot."""
    monkeypatch.setenv(GPU_LOCK_DIR_ENV, str(tmp_path_factory.mktemp("gpu-slots")))


def session_root(tmp_path_factory):
    """The folder every process of this test session shares: the parent of a
    pytest-xdist worker's temporary folder (PYTEST_XDIST_WORKER set), else its own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory, name, make):
    """`make(folder)` run once per test session, whichever process asks first; the others
    wait for it and get the same folder (pytest-xdist's documented recipe for session
    fixtures, with a file lock). A failed make fails every later ask with its traceback."""
    root = session_root(tmp_path_factory)
    folder, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failed.exists():
            pytest.fail(f"making the shared {name} failed earlier:\n{failed.read_text()}")
        if not done.exists():
            try:
                make(folder)
            except BaseException:
                failed.write_text(traceback.format_exc())
                raise
            done.touch()
    return folder


def skip_unless_ci(message):
    """Skip on a developer's machine; fail under CI (the `CI` environment variable set, as
    .ci/run sets it), which provides what these tests need (SLURM packages, ../shared): a
    missing part there must not turn them into quiet skips."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def snakemake(workdir, *args, check=True):
    """Run Snakemake in `workdir`; return the completed process (output in .stdout)."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    done.stdout = done.stdout + done.stderr
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-6000:]}")
    return done


def planned_jobs(output, wildcards):
    """Each job a dry run's `output` lists, less `all`, as 'rule' followed by the values of
    those of `wildcards` (names, in order) that the job has: 'train_pytorch m 0'."""
    jobs, rule = set(), None
    for line in output.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line):
            rule = match[1]
            jobs.add(rule)
        elif (match := re.match(r"^\s+wildcards: (.*)$", line)) and rule:
            values = dict(pair.split("=", 1) for pair in match[1].split(", "))
            jobs.discard(rule)
            jobs.add(" ".join([rule, *(values[name] for name in wildcards if name in values)]))
            rule = None
    return jobs - {"all"}


def write_overlay(path, overlay):
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def test_inputs(tmp_path_factory):
    """A tiny CIFAR-format archive and stand-in weights, made once per test session."""
    return tiny_inputs_in(made_once(tmp_path_factory, "inputs", write_tiny_inputs))


@pytest.fixture
def workdir(tmp_path):
    return copy_workflow(tmp_path / "wf")


def run_tiny_study(workdir, inputs):
    copy_workflow(workdir)
    write_overlay(workdir / "inputs.yaml", inputs_overlay(inputs))
    done = snakemake(workdir, *TWO_JOBS_AT_A_TIME, *TINY)
    (workdir / "console.txt").write_text(done.stdout)  # what the user saw: tests read it


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, test_inputs):
    """The whole DAG run once per test session on the tiny archive; returns its working
    folder, which tests only read: one that reruns Snakemake takes `tiny_run_copy`."""
    return made_once(tmp_path_factory, "tiny", lambda folder: run_tiny_study(folder, test_inputs))


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path):
    """A copy of the tiny run (outputs, times and Snakemake's records) for one test."""
    workdir = tmp_path / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    return workdir
