"""What the machine offers, decided at run time without importing a framework:
whether it has an NVIDIA GPU, which bf16 instructions its CPU has, and from
those the precision a model trains in.
"""

import os
from pathlib import Path

from cifar_compare.runtime.environment import cpuinfo_fields
from cifar_compare.runtime.gpu_slots import detected_gpus

PRECISIONS = ("fp32", "bf16", "fp16")
DEVICE_ENV = "CIFAR_COMPARE_DEVICE"
# CPU flags (Linux /proc/cpuinfo) of instructions that compute bf16 products natively.
# Only AMX makes bf16 training faster than fp32: with AVX512-BF16 alone (this
# project's 2-core development VM), oneDNN's bf16 kernels trained the scratch
# AlexNet at 0.5-0.65x its fp32 speed in both frameworks (README: Precision).
FAST_BF16_FLAGS = {"amx_bf16"}
BF16_FLAGS = {"amx_bf16", "avx512_bf16"}


class GpuNotUsable(RuntimeError):
    """The machine has a GPU that the job's framework cannot use."""


def cpu_flags():
    """The CPU's feature flags; empty where /proc/cpuinfo is missing (not Linux)."""
    return set(cpuinfo_fields().get("flags", "").split())


def cpu_has_native_bf16(flags=None):
    """True where the CPU has bf16 instructions at all (AMX-BF16 or AVX512-BF16)."""
    return not BF16_FLAGS.isdisjoint(cpu_flags() if flags is None else flags)


def cpu_has_fast_bf16(flags=None):
    """True where bf16 trains faster than fp32 on the CPU: it has AMX-BF16 tiles."""
    return not FAST_BF16_FLAGS.isdisjoint(cpu_flags() if flags is None else flags)


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


def resolve_precision(choice, on_gpu, gpu_bf16=False, cpu_bf16=None):
    """The precision a model trains in: `choice` itself, or for `auto` bf16 on a GPU
    that supports it and on a CPU with AMX-BF16, fp32 otherwise."""
    choice = choice or "auto"
    if choice == "fp16" and not on_gpu:
        raise ValueError("precision fp16 needs a GPU; use bf16 or fp32 on a CPU")
    if choice in PRECISIONS:
        return choice
    if choice != "auto":
        raise ValueError(f"precision {choice!r}: expected auto, {', '.join(PRECISIONS)}")
    if on_gpu:
        return "bf16" if gpu_bf16 else "fp32"
    return "bf16" if (cpu_has_fast_bf16() if cpu_bf16 is None else cpu_bf16) else "fp32"
