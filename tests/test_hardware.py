"""Using the hardware: the GPU a framework cannot see, the precision a tiny run recorded,
progress lines inside an epoch and a console free of TensorFlow's native log lines
(precision decisions themselves: tests/test_precision.py)."""

import json
import re

import pytest
import torch
from cifar_compare.config import load_study_config
from cifar_compare.pytorch.adapter import device_from_env
from cifar_compare.runtime import hardware
from cifar_compare.runtime.hardware import GpuNotUsable
from cifar_compare.runtime.progress import EpochProgress
from conftest import copy_workflow, inputs_overlay, snakemake, write_overlay

CONFIG = load_study_config()
MODELS = {
    "alexnet_scratch_pytorch": "pytorch",
    "alexnet_pretrained_pytorch": "pytorch",
    "alexnet_scratch_keras": "keras",
    "mobilenetv2_pretrained_keras": "keras",
}
NATIVE_LOG_LINE = re.compile(r"^[EWI]\d{4} |oneDNN|absl::InitializeLog", re.M)


def this_cpu_flags():
    """Read independently of the code under test: the flags of /proc/cpuinfo (none
    where a CPU lists no flags line)."""
    with open("/proc/cpuinfo") as cpuinfo:
        lines = [line for line in cpuinfo if line.startswith("flags")]
    return set(lines[0].split(":", 1)[1].split()) if lines else set()


def expected_cpu_decision(flags):
    """How `auto` must decide on a CPU with `flags`: a fixed precision, or 'probe'."""
    if "amx_bf16" in flags:
        return "bf16"
    return "probe" if "avx512_bf16" in flags else "fp32"


def check_recorded_precision(training, flags):
    """A training record's precision follows this CPU's flags, and its probe's figures
    where a probe decided (bf16 from the recorded ratio up)."""
    expected, probe = expected_cpu_decision(flags), training.get("precision_probe")
    if expected != "probe":
        assert training["precision"] == expected and probe is None
        return
    speedup = probe["fp32_step_seconds"] / probe["bf16_step_seconds"]
    assert probe["bf16_speedup"] == pytest.approx(speedup)
    assert training["precision"] == ("bf16" if speedup >= probe["min_bf16_speedup"] else "fp32")
    assert training["precision_reason"].startswith("probe")


def test_output_layer_computes_in_float32_under_autocast():
    from cifar_compare.pytorch.models import get_model

    model = get_model("alexnet_cifar").eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = model.classifier[:-1](model.features(torch.zeros(2, 3, 32, 32)))
        logits = model(torch.zeros(2, 3, 32, 32))
    assert hidden.dtype == torch.bfloat16 and logits.dtype == torch.float32


@pytest.fixture
def fake_gpu(tmp_path, monkeypatch):
    """A machine whose nvidia-smi lists a GPU that no framework here can use."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text('#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-00000000)"\n')
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{hardware.os.environ['PATH']}")
    for name in ("CIFAR_COMPARE_DEVICE", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    return bin_dir


def test_a_gpu_the_framework_cannot_see_is_an_error(fake_gpu, monkeypatch):
    assert hardware.machine_has_gpu()
    with pytest.raises(GpuNotUsable, match="has an NVIDIA GPU but PyTorch cannot use it"):
        device_from_env()
    from cifar_compare.keras.runtime import configure

    with pytest.raises(GpuNotUsable, match=r"CIFAR_COMPARE_DEVICE=cpu"):
        configure(0, deterministic=False)
    monkeypatch.setenv("CIFAR_COMPARE_DEVICE", "cpu")  # asking for the CPU still works
    assert device_from_env() == torch.device("cpu")
    configure(0, deterministic=False)


@pytest.mark.pipeline
def test_training_jobs_fail_with_the_fix_when_the_gpu_is_not_usable(
    tmp_path, test_inputs, fake_gpu, monkeypatch
):
    monkeypatch.setenv("CIFAR_COMPARE_GPU_LOCK_DIR", str(tmp_path / "locks"))
    workdir = copy_workflow(tmp_path / "wf")
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    targets = [
        f"results/models/alexnet_scratch_{f}/seed0/history.csv" for f in ("pytorch", "keras")
    ]
    done = snakemake(
        workdir,
        "--configfile",
        "config/test.yaml",
        "inputs.yaml",
        "--keep-going",
        *targets,
        check=False,
    )
    assert done.returncode != 0
    for framework, fix in (("pytorch", "torch.version.cuda"), ("keras", "requirements-gpu.txt")):
        log = (workdir / f"results/logs/train/alexnet_scratch_{framework}/seed0.log").read_text()
        assert "has an NVIDIA GPU but" in log and fix in log and "CIFAR_COMPARE_DEVICE=cpu" in log
        assert "epoch 1/" not in log  # it never trained on the CPU


def test_progress_lines_every_tenth_and_after_30_silent_seconds():
    lines, now = [], [0.0]
    progress = EpochProgress(lines.append, 2, 5, steps=100, batch_size=10, clock=lambda: now[0])
    for step in range(1, 101):
        now[0] += 0.1
        progress.update(step, lambda: 1.5)
    assert [int(re.search(r"step (\d+)/100", line)[1]) for line in lines] == list(
        range(10, 100, 10)
    )
    assert (
        lines[0] == "epoch 2/5 step 10/100 (10%) 100 img/s loss=1.5000 ETA epoch 0:09 training 0:39"
    )
    lines.clear()
    slow = EpochProgress(lines.append, 1, 1, steps=1000, batch_size=1, clock=lambda: now[0])
    for step in range(1, 40):
        now[0] += 1.0
        slow.update(step, lambda: 2.0)
    assert [int(re.search(r"step (\d+)/", line)[1]) for line in lines] == [30]


def test_tiny_run_logs_progress_records_precision_and_keeps_the_console_quiet(tiny_run):
    for model in MODELS:
        log = (tiny_run / f"results/logs/train/{model}/seed0.log").read_text()
        assert re.search(r"epoch 1/\d+ step \d+/\d+ \(\d+%\) \d+ img/s loss=\d", log), model
        assert "ETA epoch" in log and not NATIVE_LOG_LINE.search(log), model
        metrics = json.loads((tiny_run / f"results/metrics/{model}/seed0.json").read_text())
        check_recorded_precision(metrics["training"], this_cpu_flags())
    console = (tiny_run / "console.txt").read_text()
    assert "rule train_keras" in console and "rule evaluate_keras" in console
    assert not NATIVE_LOG_LINE.search(console), NATIVE_LOG_LINE.search(console)
    summary = (tiny_run / "results/tables/summary.md").read_text()
    assert "| precision |" in summary
    assert re.search(r"\| (fp32|bf16)( \(probe [0-9.]+×\))? \|", summary)
