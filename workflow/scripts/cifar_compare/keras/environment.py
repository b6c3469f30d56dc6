"""The training environment of a Keras run (see cifar_compare.runtime.environment)."""

from cifar_compare.runtime.environment import environment, torch_environment


def keras_environment():
    """The environment of a Keras run on its backend's first GPU, if any."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        return torch_environment(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return environment()
    build = tf.sysconfig.get_build_info()
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    return environment(name, build.get("cuda_version"), build.get("cudnn_version"))
