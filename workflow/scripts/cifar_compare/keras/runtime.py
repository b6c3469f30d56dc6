"""Backend selection and accelerator settings for the Keras jobs. Import this before
keras: the backend is fixed when keras is first imported (TensorFlow's logging when it is)."""

import contextlib
import importlib.util
import os
import re
import sys
import tempfile

from cifar_compare.runtime.hardware import DEVICE_ENV, require_gpu_if_present
from cifar_compare.runtime.resources import cpu_name

DEBUG_ENV = "CIFAR_COMPARE_DEBUG"  # 1: let the frameworks' own log lines through
# TensorFlow's C++ (absl) log lines, e.g. "I0000 00:00:... port.cc:153] oneDNN custom
# operations are on", and the notices printed with them while it loads.
NATIVE_NOISE = re.compile(
    r"^([EWI]\d{4} |WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions)"
)
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
GPU_FIXES = {
    "tensorflow": "run `rm -rf .venv && make setup` on this machine (where nvidia-smi lists "
    "a GPU it installs TensorFlow's GPU build, requirements-gpu.txt), or set `backend: torch` "
    "for this model",
    "torch": "install the CUDA build of PyTorch (`make setup` on this machine)",
    "jax": "install jax[cuda12] (or `backend: torch`)",
}


def quiet_wanted():
    """Unless CIFAR_COMPARE_DEBUG is set: keep TensorFlow's C++ logging below FATAL
    (its ERROR lines are notices such as `NodeDef mentions attribute`; real failures
    reach Python as exceptions). Must run before TensorFlow is imported."""
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return True


@contextlib.contextmanager
def native_stderr_filtered():
    """Send file descriptor 2 to a temporary file for the block, then pass on every
    line that is not TensorFlow's native load-time noise (which ignores
    TF_CPP_MIN_LOG_LEVEL)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not NATIVE_NOISE.match(line)))


def select_backend(name):
    """Set the Keras 3 backend for this process (null in config = tensorflow), hide
    the GPUs where CIFAR_COMPARE_DEVICE=cpu, and load TensorFlow quietly."""
    os.environ["KERAS_BACKEND"] = name or "tensorflow"
    if os.environ.get(DEVICE_ENV, "").strip().lower() == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["JAX_PLATFORMS"] = "cpu"
    if not quiet_wanted() or importlib.util.find_spec("tensorflow") is None:
        return
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        # keras.utils.set_random_seed imports TensorFlow on every backend where it is
        # installed. Load the backend first: TensorFlow loaded before torch segfaults here.
        importlib.import_module("keras")
    with native_stderr_filtered():
        import tensorflow  # noqa: F401


def tf_gpu_details(tf, gpu):
    """What TensorFlow knows of one of its GPUs, `device_name` always included."""
    return {"device_name": gpu.name, **tf.config.experimental.get_device_details(gpu)}


# Per backend: its setup(threads) -> (GPU names, whether the first computes bf16 natively,
# the function making its ops deterministic).
def _tensorflow_setup(threads):
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # Allocate on demand, so Keras and PyTorch jobs can share one GPU.
        tf.config.experimental.set_memory_growth(gpu, True)
    details = [tf_gpu_details(tf, gpu) for gpu in gpus]
    # bf16 natively from compute capability 8.0.
    bf16 = bool(gpus) and tuple(details[0].get("compute_capability", (0, 0))) >= (8, 0)
    names = [d["device_name"] for d in details]
    return names, bf16, tf.config.experimental.enable_op_determinism


def _torch_setup(threads):
    import torch

    if threads:
        torch.set_num_threads(threads)
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    bf16 = bool(names) and torch.cuda.is_bf16_supported()
    return names, bf16, lambda: torch.use_deterministic_algorithms(True)


def _jax_setup(_threads):
    import jax

    names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    return names, bool(names), lambda: None  # XLA handles bf16 on every GPU it supports


SETUPS = {"tensorflow": _tensorflow_setup, "torch": _torch_setup, "jax": _jax_setup}


def configure(threads, deterministic=None):
    """Set threads, TF memory growth and determinism; return (device name, whether the
    backend sees a GPU, whether that GPU computes bf16 natively). A machine whose GPU
    the backend cannot see raises GpuNotUsable."""
    import keras

    backend = keras.backend.backend()
    gpus, gpu_bf16, make_deterministic = SETUPS[backend](threads)
    require_gpu_if_present(f"Keras ({backend} backend)", gpus, GPU_FIXES[backend])
    if not gpus if deterministic is None else deterministic:  # by default on CPU runs
        make_deterministic()
    return (gpus[0] if gpus else cpu_name()), bool(gpus), gpu_bf16


def set_precision(precision):
    """The global mixed-precision policy of `precision` (fp32, bf16, fp16): models built
    from here on compute in it."""
    import keras

    keras.mixed_precision.set_global_policy(POLICIES[precision])


def compute_precision():
    """The precision the global policy computes in: fp32, bf16 or fp16."""
    import keras

    policy = keras.mixed_precision.global_policy().compute_dtype
    return {"bfloat16": "bf16", "float16": "fp16"}.get(policy, "fp32")


def compiled(function):
    """`function` traced into one graph on the TensorFlow backend, where each eager op
    costs tens of microseconds (the weight average's ~90 ops per step: 29 ms eager
    against 10 ms traced, one core); as it is elsewhere (torch's eager ops are cheap)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return function
    import tensorflow as tf

    return tf.function(function)


def peak_device_memory_mb():
    """Peak accelerator memory of this process so far; None on a CPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            return device.memory_stats()["peak_bytes_in_use"] / 2**20
    return None
