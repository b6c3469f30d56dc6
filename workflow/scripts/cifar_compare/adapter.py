"""What a framework provides to the shared training and evaluation entries
(cifar_compare.training, cifar_compare.evaluation), which hold everything else.

One implementation per framework: cifar_compare.pytorch.adapter.PyTorch and
cifar_compare.keras.adapter.Keras. Each rule script hands its own adapter to the
entry, so a rule's code digest (cifar_compare.code_identity) holds only its own
framework's code. An adapter holds one job's device and settings between calls.
"""

from typing import Protocol

import numpy as np


class Framework(Protocol):
    name: str  # the metrics record's `framework`, as in the config

    def start(self, model_config: dict, threads: int, precision: str) -> str:
        """Select the device (and backend), threads, determinism and the precision
        (a config choice: auto, fp32, bf16, fp16); return the device's name."""

    def build(self, weights_path: str | None, seed: int):
        """The model of the started config, seeded, from pretrained weights if given."""

    def fit(self, model, train, val, seed: int, log, resume=None, stop=None) -> list[dict]:
        """Train on the train/val splits; the per-epoch history rows
        (cifar_compare.history), resumable from `resume`, stopping on `stop`."""

    def predict(self, model, images: np.ndarray) -> np.ndarray:
        """Logits of uint8 NHWC images, in the training batch size."""

    def save(self, model, record: dict, output) -> None:
        """Write the trained model and its record to the rule's `output` files."""

    def read_record(self, inputs) -> dict:
        """The record that save() wrote, from the evaluate rule's `inputs`."""

    def load(self, record: dict, inputs):
        """The trained model, on the started device."""

    def precision(self) -> str:
        """The precision it computes in: fp32, bf16 or fp16."""

    def library(self) -> str:
        """The framework and version for the log, e.g. `PyTorch 2.9.0`."""

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory of this job so far; None on a CPU."""

    def environment(self) -> dict:
        """GPU, driver, CUDA and cuDNN (cifar_compare.runtime.environment)."""

    def versions(self) -> dict:
        """Versions of the libraries that ran the job."""

    def layers(self, model) -> tuple[int, list]:
        """(parameter count, (type, output shape, parameters) rows) of the model."""
