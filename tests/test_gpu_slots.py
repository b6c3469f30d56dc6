"""GPU slots: one GPU per concurrent job on one machine (cifar_compare/runtime/gpu_slots.py)."""

import logging
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from cifar_compare.runtime.gpu_slots import GpuSlotError, claim_slot, gpu_count, gpu_slot, user_name
from cifar_compare.runtime.logs import FORMAT
from conftest import REPO, TINY, copy_workflow, inputs_overlay, snakemake, write_overlay

WAIT = "CIFAR_COMPARE_GPU_WAIT_SECONDS"
HOLD_SLOT = """
import sys, time
from cifar_compare.runtime.gpu_slots import claim_slot
slot, _ = claim_slot(2, sys.argv[1])
print(slot, flush=True)
time.sleep(600)
"""


def slot_env(tmp_path, **extra):
    return {"CIFAR_COMPARE_GPUS": "2", "CIFAR_COMPARE_GPU_LOCK_DIR": str(tmp_path), **extra}


@pytest.fixture
def job_log(tmp_path):
    """(a job's log file, a logger writing to it in the job logs' format)."""
    path = tmp_path / "job.log"
    logger, handler = logging.getLogger(f"job.{tmp_path.name}"), logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield path, logger
    logger.removeHandler(handler)
    handler.close()


def test_claims_the_first_free_slot_and_frees_it_on_close(tmp_path):
    first, first_fd = claim_slot(2, tmp_path)
    second, second_fd = claim_slot(2, tmp_path)
    assert (first, second) == (0, 1)
    os.close(first_fd)
    again, again_fd = claim_slot(2, tmp_path)
    assert again == 0
    os.close(second_fd), os.close(again_fd)


def test_slot_of_a_killed_process_is_reused(tmp_path, holder):
    taken, fd = claim_slot(2, tmp_path)
    assert taken == 1
    holder.kill()
    holder.wait()
    reused, reused_fd = claim_slot(2, tmp_path, timeout=5)
    assert reused == 0
    os.close(fd), os.close(reused_fd)


def test_waits_for_a_slot_and_gives_up_after_the_timeout(tmp_path):
    _, fd = claim_slot(1, tmp_path)
    waits = []
    with pytest.raises(TimeoutError, match="all 1 GPU slots .* stayed taken"):
        claim_slot(1, tmp_path, timeout=0.2, on_wait=waits.append)
    assert len(waits) == 1 and "waiting" in waits[0]
    os.close(fd)


@pytest.fixture
def holder(tmp_path):
    """A process of its own holding slot 0 of `tmp_path` (until killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")},
    )
    assert process.stdout.readline().strip() == "0"
    yield process
    process.kill()
    process.wait()


def test_a_slot_that_stays_taken_ends_the_wait_naming_its_holder(tmp_path, holder):
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="all 1 GPU slots .* stayed taken for 0.3 s") as error:
        claim_slot(1, tmp_path, timeout=0.3)
    assert time.monotonic() - started < 5
    owner = user_name(os.geteuid())
    assert f"(gpu0.lock held by pid {holder.pid} ({owner})); raise {WAIT}" in str(error.value)


def test_the_jobs_wait_is_bounded_by_the_environment(tmp_path, job_log, holder):
    environ = slot_env(tmp_path, CIFAR_COMPARE_GPUS="1", CIFAR_COMPARE_GPU_WAIT_SECONDS="0")
    with pytest.raises(TimeoutError), gpu_slot(job_log[1], environ):
        pass
    log = job_log[0].read_text()
    assert f"ERROR gpu slot: TimeoutError: all 1 GPU slots in {tmp_path} stayed taken" in log
    environ[WAIT] = "soon"
    with pytest.raises(ValueError, match=f"{WAIT}='soon': expected seconds"):
        with gpu_slot(job_log[1], environ):
            pass


def test_a_planted_link_is_refused_and_not_followed(tmp_path):
    slots, target = tmp_path / "slots", tmp_path / "created-by-the-job"
    slots.mkdir(mode=0o700)
    (slots / "gpu0.lock").symlink_to(target)
    with pytest.raises(GpuSlotError, match=r"slots/gpu0.lock: a symbolic link; remove it"):
        claim_slot(1, slots, timeout=0)
    assert not target.exists()


def test_a_planted_fifo_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "gpu0.lock")
    errors = []

    def claim():
        try:
            claim_slot(1, tmp_path, timeout=0)
        except GpuSlotError as error:
            errors.append(str(error))

    claiming = threading.Thread(target=claim, daemon=True)
    claiming.start()
    claiming.join(timeout=10)
    assert not claiming.is_alive(), "claim_slot hangs in open() on a FIFO"
    assert errors and "gpu0.lock is not a regular file (prw" in errors[0]


def make_foreign(folder, monkeypatch):
    """Make `folder` someone else's: chown it where we may, else claim to be another user."""
    if os.geteuid() == 0:
        os.chown(folder, 65534, 65534)
    else:
        uid = os.geteuid() + 1
        monkeypatch.setattr(os, "geteuid", lambda: uid)


@pytest.mark.parametrize(
    "mode, foreign, reason",
    [
        (0o700, True, "it belongs to .*, not to you or root"),
        (0o777, False, r"others may replace its files \(mode drwxrwxrwx, not sticky\)"),
        (0o770, False, r"others may replace its files \(mode drwxrwx---, not sticky\)"),
    ],
)
def test_a_folder_others_control_is_refused(tmp_path, monkeypatch, mode, foreign, reason):
    slots = tmp_path / "slots"
    slots.mkdir()
    slots.chmod(mode)
    if foreign:
        make_foreign(slots, monkeypatch)
    with pytest.raises(GpuSlotError, match=f"GPU slot folder {slots}: {reason}; set CIFAR_"):
        claim_slot(1, slots, timeout=0)
    assert list(slots.iterdir()) == []


def test_a_link_as_the_folder_is_refused_and_a_sticky_shared_folder_is_used(tmp_path):
    slots = tmp_path / "shared"
    slots.mkdir()
    (tmp_path / "link").symlink_to(slots)
    with pytest.raises(OSError):
        claim_slot(1, tmp_path / "link", timeout=0)
    slots.chmod(0o1777)  # as /tmp: others add files, only their owner may remove them
    slot, fd = claim_slot(1, slots, timeout=0)
    assert slot == 0 and stat.S_ISREG(os.fstat(fd).st_mode)
    os.close(fd)


def test_the_default_folder_is_the_users_own(tmp_path, monkeypatch, job_log):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    with gpu_slot(job_log[1], {"CIFAR_COMPARE_GPUS": "1"}) as slot:
        assert slot == 0
    folder = tmp_path / f"cifar-compare-gpu-slots-{os.geteuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_gpu_slot_sets_cuda_visible_devices_for_the_job_only(tmp_path, job_log):
    log, logger = job_log
    first, second = slot_env(tmp_path), slot_env(tmp_path)
    with gpu_slot(logger, first) as slot:
        assert slot == 0 and first["CUDA_VISIBLE_DEVICES"] == "0"
        with gpu_slot(logger, second) as other:
            assert other == 1 and second["CUDA_VISIBLE_DEVICES"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in first and "CUDA_VISIBLE_DEVICES" not in second
    assert re.findall(r"INFO gpu slot: slot (\d) of 2", log.read_text()) == ["0", "1"]


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "3"}, "SLURM job 7 assigns GPUs"),
        ({"CUDA_VISIBLE_DEVICES": "2"}, "CUDA_VISIBLE_DEVICES=2 was set before the job"),
        ({"CIFAR_COMPARE_GPUS": "0"}, "no GPUs found"),
    ],
)
def test_gpu_slot_leaves_the_choice_to_slurm_the_user_or_no_gpus(tmp_path, job_log, extra, reason):
    environ = slot_env(tmp_path / "locks", **extra)
    before = dict(environ)
    with gpu_slot(job_log[1], environ) as slot:
        assert slot is None and environ == before
    assert environ == before and not (tmp_path / "locks").exists()
    assert f"not assigning a GPU: {reason}" in job_log[0].read_text()


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_bad_gpu_count_is_a_clear_error_in_the_job_log(tmp_path, job_log, value):
    environ = slot_env(tmp_path, CIFAR_COMPARE_GPUS=value)
    with pytest.raises(ValueError, match=f"CIFAR_COMPARE_GPUS='{re.escape(value)}'"):
        with gpu_slot(job_log[1], environ):
            pass
    assert "ERROR gpu slot: ValueError: CIFAR_COMPARE_GPUS" in job_log[0].read_text()


def test_gpu_count_comes_from_the_environment_or_nvidia_smi(tmp_path, monkeypatch):
    assert gpu_count({"CIFAR_COMPARE_GPUS": "3"}) == 3
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: H100 (UUID: a)'\necho 'GPU 1: H100 (UUID: b)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu_count({}) == 2
    fake.unlink()
    assert gpu_count({}) == 0


@pytest.mark.pipeline
def test_concurrent_training_jobs_get_different_gpus(tmp_path, test_inputs, monkeypatch):
    """Two PyTorch training jobs at once on a machine that claims two GPUs: two seeds
    of the scratch model, one epoch in fp32 (no precision probe), to keep them short."""
    workdir = copy_workflow(tmp_path / "wf")
    overlay = inputs_overlay(test_inputs)
    model = "alexnet_scratch_pytorch"
    overlay["models"] = {model: {"seeds": [0, 1], "epochs": 1, "precision": "fp32"}}
    write_overlay(workdir / "inputs.yaml", overlay)
    monkeypatch.setenv("CIFAR_COMPARE_GPUS", "2")
    monkeypatch.setenv("CIFAR_COMPARE_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    targets = [f"results/models/{model}/seed{seed}/checkpoint.pt" for seed in (0, 1)]
    # One thread each, so both fit the two cores at the same time.
    snakemake(workdir, *targets, "--resources", "gpu=2", "--set-threads", "train_pytorch=1", *TINY)
    devices = []
    for seed in (0, 1):
        log = (workdir / f"results/logs/train/{model}/seed{seed}.log").read_text()
        devices += re.findall(r"gpu slot: slot \d of 2 .*: CUDA_VISIBLE_DEVICES=(\d)", log)
    assert sorted(devices) == ["0", "1"]
