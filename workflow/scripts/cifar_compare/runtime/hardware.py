"""What the machine offers, decided at run time without importing a framework:
whether it has an NVIDIA GPU and which instructions its CPU has (the precision a
model trains in is decided from these in cifar_compare.runtime.precision).
"""

import os
from pathlib import Path

from cifar_compare.runtime.environment import cpuinfo_fields
from cifar_compare.runtime.gpu_slots import detected_gpus

DEVICE_ENV = "CIFAR_COMPARE_DEVICE"


class GpuNotUsable(RuntimeError):
    """The machine has a GPU that the job's framework cannot use."""


def cpu_flags():
    """The CPU's feature flags; empty where /proc/cpuinfo is missing (not Linux)."""
    return set(cpuinfo_fields().get("flags", "").split())


def machine_has_gpu():
    """True where an NVIDIA GPU is present: nvidia-smi lists one, or /dev/nvidia0 exists."""
    return Path("/dev/nvidia0").exists() or detected_gpus() > 0


def require_gpu_if_present(framework, visible_gpus, fix, environ=os.environ):
    """Raise GpuNotUsable where the machine has a GPU, the framework sees none and
    the CPU was not asked for (CIFAR_COMPARE_DEVICE=cpu, or every GPU hidden):
    training on the CPU by accident costs hours."""
    asked = environ.get(DEVICE_ENV, "").strip().lower() == "cpu"
    hidden = environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1")
    if visible_gpus or asked or hidden or not machine_has_gpu():
        return
    raise GpuNotUsable(
        f"this machine has an NVIDIA GPU but {framework} cannot use it: {fix}; "
        f"or set {DEVICE_ENV}=cpu to train on the CPU on purpose"
    )
