"""The training environment every metrics file records (cifar_compare.runtime.environment)."""

import os
from pathlib import Path

import pytest
import torch
from cifar_compare.runtime.environment import (
    cpu_model,
    cudnn_version_string,
    environment,
    gpu_driver_version,
    torch_environment,
)

X86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\n"
ARM = "processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4\n"


@pytest.mark.parametrize(
    "text, name", [(X86, "Intel(R) Xeon(R) Gold 6338"), (ARM, "Raspberry Pi 4")]
)
def test_cpu_model_is_read_from_cpuinfo(tmp_path, text, name):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert cpu_model(cpuinfo) == name


def test_cpu_model_falls_back_to_platform(tmp_path):
    import platform

    expected = platform.processor() or platform.machine()
    assert cpu_model(tmp_path / "missing") == expected


@pytest.mark.skipif(
    not Path("/proc/cpuinfo").is_file() or "model name" not in Path("/proc/cpuinfo").read_text(),
    reason="no model name in /proc/cpuinfo here",
)
def test_this_machines_cpu_has_its_model_name():
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    first = next(line for line in lines if line.startswith("model name"))
    assert cpu_model() == first.split(":", 1)[1].strip() != ""


def fake_nvidia_smi(folder, script):
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)


def test_driver_version_comes_from_nvidia_smi(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, 'echo "550.54.15"; echo "550.54.15"')  # two GPUs
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert gpu_driver_version() == "550.54.15"
    fake_nvidia_smi(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    assert gpu_driver_version() is None


def test_no_driver_without_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu_driver_version() is None


def test_gpu_fields_only_for_gpu_runs(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, 'echo "550.54.15"')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    on_gpu = environment("NVIDIA H200", "12.8", "9.7.0")
    assert on_gpu == {
        "cpu": cpu_model(),
        "gpu": "NVIDIA H200",
        "gpu_driver": "550.54.15",
        "cuda": "12.8",
        "cudnn": "9.7.0",
    }
    assert torch_environment(torch.device("cpu")) == {
        "cpu": cpu_model(),
        "gpu": None,
        "gpu_driver": None,
        "cuda": None,
        "cudnn": None,
    }


def test_cudnn_numbers_read_as_versions():
    assert cudnn_version_string(8902) == "8.9.2"
    assert cudnn_version_string(90100) == "9.1.0"
    assert cudnn_version_string(91002) == "9.10.2"
    assert cudnn_version_string(None) is None
