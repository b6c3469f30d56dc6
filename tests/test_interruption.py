"""Killed training jobs resume where they stopped, to the same result; same seed, same metrics."""

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import copy_workflow, inputs_overlay, snakemake, write_overlay

pytestmark = pytest.mark.pipeline
SCRATCH = {"alexnet_scratch_pytorch": "train_torch.py", "alexnet_scratch_keras": "train_keras.py"}
EPOCHS = 4
TIMING_FIELDS = ("wall_seconds", "images_per_second", "peak_rss_mb", "peak_device_memory_mb")


def scratch_only_workdir(path, test_inputs):
    workdir = copy_workflow(path)
    overlay = inputs_overlay(test_inputs)
    overlay["models"] = {
        **{name: {"epochs": EPOCHS} for name in SCRATCH},
        "alexnet_pretrained_pytorch": {"enabled": False},
        "mobilenetv2_pretrained_keras": {"enabled": False},
    }
    write_overlay(workdir / "inputs.yaml", overlay)
    return workdir


def stable_metrics(workdir, model):
    """The metrics JSON text without the fields that measure time or memory."""
    metrics = json.loads((workdir / f"results/metrics/{model}/seed0.json").read_text())
    for field in TIMING_FIELDS:
        metrics["training"].pop(field)
    metrics.pop("inference_images_per_second")
    return json.dumps(metrics, indent=2, sort_keys=True)


def saved_epoch(workdir, model):
    state = workdir / f"results/resume/{model}/seed0/state.json"
    return json.loads(state.read_text())["epoch"] if state.is_file() else 0


def training_process(workdir, script):
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if script in cmdline and "python" in cmdline and process.info["cwd"] == str(workdir):
            return process
    return None


def interrupt_each_training_job(workdir):
    """Run the study and SIGTERM each training job once its first epoch is saved.

    Returns the epoch each job had saved when the signal was sent.
    """
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--keep-going"]
    run = subprocess.Popen(
        [*command, "--configfile", "config/test.yaml", "inputs.yaml"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stopped_at = {}
    deadline = time.monotonic() + 600
    while len(stopped_at) < len(SCRATCH) and run.poll() is None and time.monotonic() < deadline:
        for model, script in SCRATCH.items():
            if model in stopped_at or saved_epoch(workdir, model) < 1:
                continue
            process = training_process(workdir, script)
            if process is not None:
                stopped_at[model] = saved_epoch(workdir, model)
                process.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    assert run.wait(timeout=600) != 0, "the run should fail: its training jobs were stopped"
    return stopped_at


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path, test_inputs):
    reference = scratch_only_workdir(tmp_path / "reference", test_inputs)
    snakemake(reference, "--configfile", "config/test.yaml", "inputs.yaml")
    interrupted = scratch_only_workdir(tmp_path / "interrupted", test_inputs)
    assert sorted(interrupt_each_training_job(interrupted)) == sorted(SCRATCH)
    kept = {model: saved_epoch(interrupted, model) for model in SCRATCH}
    for model, epoch in kept.items():
        assert 1 <= epoch < EPOCHS  # the state of the last finished epoch is kept
        assert not (interrupted / f"results/metrics/{model}/seed0.json").exists()
        log = (interrupted / f"results/logs/train/{model}/seed0.log").read_text()
        assert "stopped by SIGTERM" in log
    snakemake(interrupted, "--configfile", "config/test.yaml", "inputs.yaml")
    for model, epoch in kept.items():
        log = (interrupted / f"results/logs/train/{model}/seed0.log").read_text()
        assert f"resuming after epoch {epoch}" in log
        assert f"epoch {epoch + 1}/{EPOCHS}" in log.split("resuming")[-1]
        assert not (interrupted / f"results/resume/{model}").exists()  # cleaned up
        assert stable_metrics(interrupted, model) == stable_metrics(reference, model)


def test_same_seed_gives_identical_metrics(tmp_path, test_inputs):
    workdir = scratch_only_workdir(tmp_path / "wf", test_inputs)
    snakemake(workdir, "--configfile", "config/test.yaml", "inputs.yaml")
    first = {model: stable_metrics(workdir, model) for model in SCRATCH}
    snakemake(
        workdir,
        "--forcerun",
        "train_pytorch",
        "train_keras",
        "--configfile",
        "config/test.yaml",
        "inputs.yaml",
    )
    assert {model: stable_metrics(workdir, model) for model in SCRATCH} == first


def test_a_state_from_other_data_or_weights_is_discarded_not_resumed(tmp_path):
    from cifar_compare.runtime.interruption import ResumeDir, fingerprint

    files = {}
    for name in ("data", "other_data", "weights", "other_weights"):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode())
    (tmp_path / "same_data").write_bytes(b"data")  # a copy elsewhere: the same content
    config, state = {"epochs": 3}, tmp_path / "resume/model/seed0"

    def save_state(data, weights):
        resume = ResumeDir(state, fingerprint(config, 0, files[data], files[weights]))
        resume.epoch_file(1, ".pt").write_bytes(b"epoch 1 weights")
        resume.save_record({"epoch": 1, "history": []})

    def resumed_epoch(data_path, weights_path):
        record = ResumeDir(state, fingerprint(config, 0, data_path, weights_path)).load_record()
        return record and record["epoch"]

    save_state("data", "weights")
    assert resumed_epoch(tmp_path / "same_data", files["weights"]) == 1
    for data_path, weights_path in [
        (files["other_data"], files["weights"]),  # other prepared data
        (files["data"], files["other_weights"]),  # other pretrained weights
        (files["data"], None),  # no pretrained weights
    ]:
        save_state("data", "weights")
        assert resumed_epoch(data_path, weights_path) is None
        assert not state.exists()  # the foreign state is removed, not kept
    save_state("data", "weights")
    other_seed = ResumeDir(state, fingerprint(config, 1, files["data"], files["weights"]))
    assert other_seed.load_record() is None
