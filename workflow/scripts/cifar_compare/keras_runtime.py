"""Backend selection and accelerator settings for the Keras jobs.

Import this before keras: the backend is fixed when keras is first imported.
"""

import os

from cifar_compare.resources import cpu_name


def select_backend(name):
    """Set the Keras 3 backend for this process (null in config = tensorflow)."""
    os.environ["KERAS_BACKEND"] = name or "tensorflow"


def _tensorflow_gpus(threads):
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # Allocate on demand, so Keras and PyTorch jobs can share one GPU.
        tf.config.experimental.set_memory_growth(gpu, True)
    return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]


def _torch_gpus(threads):
    import torch

    if threads:
        torch.set_num_threads(threads)
    count = torch.cuda.device_count()
    return [torch.cuda.get_device_name(i) for i in range(count)]


def _jax_gpus(_threads):
    import jax

    return [d.device_kind for d in jax.devices() if d.platform == "gpu"]


GPU_PROBES = {"tensorflow": _tensorflow_gpus, "torch": _torch_gpus, "jax": _jax_gpus}


def configure(threads, deterministic=None):
    """Set threads, TF memory growth, GPU mixed precision and determinism;
    return the device name."""
    import keras

    gpus = GPU_PROBES[keras.backend.backend()](threads)
    make_deterministic(deterministic, bool(gpus))
    if gpus:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        return gpus[0]
    return cpu_name()


def make_deterministic(choice, on_gpu):
    """Deterministic kernels when asked, and by default on CPU runs."""
    import keras

    if not (on_gpu is False if choice is None else choice):
        return False
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
    return True


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
