import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from xdist.scheduler import LoadFileScheduling

# torchvision (through torch._dynamo and triton) segfaults on import once
# TensorFlow is loaded in the same process; the tests use both, so load it first.
import torchvision.models  # noqa: F401  isort: skip
from cifar_fixtures import inputs_overlay, write_tiny_inputs  # noqa: F401  (tests import both)
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
# The modules with tests on the session's one tiny run (`tiny_run`). pytest-xdist runs
# them on one worker, so the run is made once and their tests keep the file order.
TINY_RUN_MODULES = ("test_hardware.py", "test_pipeline.py", "test_report.py", "test_staleness.py")


def pytest_collection_modifyitems(items):
    # Modules with SLURM tests first, then those with slow tests, so that the workers
    # start on the long ones and the quick ones fill in (this order reaches xdist through
    # --no-loadscope-reorder); a module keeps its test order.
    rank = {}
    for item in items:
        if "tiny_run" in item.fixturenames:
            if item.path.name not in TINY_RUN_MODULES:
                raise pytest.UsageError(
                    f"{item.nodeid} uses tiny_run: add {item.path.name} to TINY_RUN_MODULES "
                    "in tests/conftest.py"
                )
            item.add_marker(pytest.mark.pipeline)
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)
        own = 0 if item.get_closest_marker("slurm") else 1 if item.get_closest_marker("slow") else 2
        rank[item.path] = min(rank.get(item.path, 2), own)
    items.sort(key=lambda item: rank[item.path])


class ModuleScheduling(LoadFileScheduling):
    """pytest-xdist's `--dist loadfile` (a module's tests on one worker, so a module
    fixture is made once: the test SLURM, of which a machine can run only one, included),
    with the tiny-run modules as one unit."""

    def _split_scope(self, nodeid):
        module = super()._split_scope(nodeid)
        return "tiny_run" if Path(module).name in TINY_RUN_MODULES else module


def pytest_xdist_make_scheduler(config, log):
    # Whatever --dist says: any split of a module could start a second SLURM.
    return ModuleScheduling(config, log)


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


def write_overlay(path, overlay):
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def test_inputs(tmp_path_factory):
    """A tiny CIFAR-format archive and stand-in AlexNet weights, made once per session."""
    return write_tiny_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture
def workdir(tmp_path):
    return copy_workflow(tmp_path / "wf")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, test_inputs):
    """The whole DAG run once on the tiny archive; returns its working directory.

    Shared by several test modules; tests that change its config run last in
    their module and leave every output consistent with the config they used.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny") / "wf")
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    done = snakemake(workdir, *TWO_JOBS_AT_A_TIME, *TINY)
    (workdir / "console.txt").write_text(done.stdout)  # what the user saw: tests read it
    return workdir
