"""What a framework (cifar_compare.pytorch.adapter.PyTorch, cifar_compare.keras.adapter.
Keras) provides to the shared entries, cifar_compare.training and .evaluation. Each rule
script hands its own adapter to the entry, so its code digest (cifar_compare.code_identity)
holds its framework's code only. An adapter holds one job's device and settings from start()."""

from typing import Protocol

import numpy as np


class Framework(Protocol):
    name: str  # the metrics record's `framework`, as in the config

    def start(self, model_config: dict, threads: int, precision: str) -> str:
        """Set device (and backend), threads, determinism and precision (auto, fp32, bf16,
        fp16, resolved for the device); return the device's name."""

    def build(self, weights_path: str | None, seed: int):
        """The started config's model, seeded, from the pretrained weights if any."""

    def trainer(self, model, train, val):
        """The hooks of the shared epoch loop (cifar_compare.epochs.fit) for the splits."""

    def predict(self, model, images: np.ndarray) -> np.ndarray:
        """Logits of uint8 NHWC images, computed in batches of the training batch size."""

    def save(self, model, record: dict, output) -> None:
        """Write the model and its record to the train rule's `output` files."""

    def read_record(self, inputs) -> dict:
        """The record save() wrote, from the evaluate rule's `inputs`."""

    def load(self, record: dict, inputs):
        """The trained model, on the started device."""

    def precision(self) -> str:
        """What it computes in: fp32, bf16 or fp16."""

    def library(self) -> str:
        """Framework and version for the log, e.g. `PyTorch 2.9.0`."""

    def peak_device_memory_mb(self) -> float | None:
        """This job's peak accelerator memory so far; None on a CPU."""

    def environment(self) -> dict:
        """GPU, driver, CUDA and cuDNN (cifar_compare.runtime.environment)."""

    def versions(self) -> dict:
        """Versions of the libraries that ran the job."""

    def layers(self, model) -> tuple[dict, list]:
        """(parameter counts, (type, output shape, parameters) of each layer)."""
