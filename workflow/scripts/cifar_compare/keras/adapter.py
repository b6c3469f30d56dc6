"""Keras as a cifar_compare.adapter.Framework: the backend, the model (with its pretrained
base between calls) and checkpoints (a .weights.h5 file and a JSON record). keras is
imported inside the methods only, after start() selected the backend."""

import importlib

from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.fileio import atomic_path, read_json, write_json_atomic
from cifar_compare.keras import runtime as keras_runtime
from cifar_compare.runtime import precision as precisions
from cifar_compare.runtime.environment import environment, torch_environment
from cifar_compare.runtime.resources import library_versions


class Keras:
    name = "keras"

    def start(self, model_config, threads, precision):
        keras_runtime.select_backend(model_config["backend"])
        self.config = model_config
        device, self.on_gpu, self.gpu_bf16 = keras_runtime.configure(
            threads, model_config["deterministic"]
        )
        self.decision = self.resolve_precision(precision)
        keras_runtime.set_precision(self.decision.precision)
        return device

    def resolve_precision(self, choice):
        decision = precisions.resolve(choice, self.on_gpu, self.gpu_bf16, self.probe_steps)
        if decision.probe:
            import keras

            # The probe's two models and their traced steps would otherwise stay in
            # Keras' global state for the whole job.
            keras.backend.clear_session()
        return decision

    def probe_steps(self):
        from cifar_compare.keras.train import probe_steps

        return probe_steps(self.config)

    def build(self, weights_path, seed):
        import keras

        from cifar_compare.keras.models import get_model

        keras.utils.set_random_seed(seed)
        architecture = self.config["architecture"]
        model, self.base = get_model(architecture, self.config, NUM_CLASSES, weights_path, seed)
        return model

    def trainer(self, model, train, val):
        from cifar_compare.keras.train import KerasTrainer

        arrays = [(split.images, split.labels) for split in (train, val)]
        return KerasTrainer(model, self.base, *arrays, self.config)

    def predict(self, model, images):
        from cifar_compare.keras.train import predict_logits

        return predict_logits(model, images, self.config["batch_size"])

    def save(self, model, record, output):
        with atomic_path(output.checkpoint, suffix=".partial.weights.h5") as tmp:
            model.save_weights(tmp)
        write_json_atomic(output.record, record)

    def read_record(self, inputs):
        return read_json(inputs.record)

    def load(self, record, inputs):
        from cifar_compare.keras.models import get_model

        model, _ = get_model(record["architecture"], self.config, record["num_classes"])
        model.load_weights(inputs.checkpoint)
        return model

    def precision(self):
        return self.decision

    def library(self):
        import keras

        return f"Keras {keras.__version__} ({keras.backend.backend()} backend)"

    def peak_device_memory_mb(self):
        return keras_runtime.peak_device_memory_mb()

    def environment(self):
        """The environment of the backend's first GPU, if any."""
        import keras

        if keras.backend.backend() == "torch":
            import torch

            return torch_environment(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return environment()
        build = tf.sysconfig.get_build_info()
        name = keras_runtime.tf_gpu_details(tf, gpus[0])["device_name"]
        return environment(name, build.get("cuda_version"), build.get("cudnn_version"))

    def versions(self):
        import keras

        # The backend's name is its module's (keras_runtime.SETUPS has no other).
        return library_versions(keras, importlib.import_module(keras.backend.backend()))

    def layers(self, model):
        from cifar_compare.keras.models import count_parameters, layer_summary

        return count_parameters(model), layer_summary(model)
