"""What a model was trained on, for every metrics file: the CPU's model name, and the
GPU, its driver and the CUDA and cuDNN versions where a GPU did the work (else null)."""

import platform
import subprocess
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Keys naming the CPU in /proc/cpuinfo: x86 has "model name"; ARM kernels "Model"
# or "Processor".
CPU_KEYS = ("model name", "Model", "Processor")


def cpuinfo_fields(cpuinfo=CPUINFO):
    """The non-empty fields of /proc/cpuinfo, each as the first processor lists it; none
    where it is missing (not Linux)."""
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return {}
    fields = {}
    for key, _, value in (line.partition(":") for line in lines):
        if value.strip():
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model(cpuinfo=CPUINFO):
    """The CPU's model name from /proc/cpuinfo; what `platform` knows where there is none."""
    fields = cpuinfo_fields(cpuinfo)
    for key in CPU_KEYS:
        if key in fields:
            return fields[key]
    return platform.processor() or platform.machine()


def nvidia_smi(*args):
    """The lines `nvidia-smi *args` prints; none where it is missing or fails."""
    try:
        done = subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.strip().splitlines() if done.returncode == 0 else []


def gpu_driver_version():
    """The NVIDIA driver version `nvidia-smi` reports; None where it is missing or fails."""
    lines = nvidia_smi("--query-gpu=driver_version", "--format=csv,noheader")
    return lines[0].strip() if lines else None


def environment(gpu=None, cuda=None, cudnn=None):
    """The metrics file's `training.environment`; GPU fields only for GPU runs."""
    return {
        "cpu": cpu_model(),
        "gpu": gpu,
        "gpu_driver": gpu_driver_version() if gpu else None,
        "cuda": cuda if gpu else None,
        "cudnn": cudnn if gpu else None,
    }


def cudnn_version_string(number):
    """cuDNN's version number as text: 8902 -> 8.9.2 (cuDNN 8), 90100 -> 9.1.0 (cuDNN 9+)."""
    if number is None:
        return None
    major, rest = divmod(number, 10000) if number >= 90000 else divmod(number, 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def torch_environment(device):
    """The environment of a PyTorch run on `device`."""
    import torch

    if device.type != "cuda":
        return environment()
    return environment(
        torch.cuda.get_device_name(device),
        torch.version.cuda,
        cudnn_version_string(torch.backends.cudnn.version()),
    )
