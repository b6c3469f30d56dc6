"""PyTorch as a cifar_compare.adapter.Framework: device choice, the model, its
recipe, and checkpoints (one .pt file: the weights and the record)."""

import dataclasses
import os
from importlib import metadata

import numpy as np
import torch

from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.fileio import atomic_path
from cifar_compare.pytorch.architectures import get_spec
from cifar_compare.pytorch.data import to_device
from cifar_compare.pytorch.models import count_parameters, freeze_all_but, get_model, layer_summary
from cifar_compare.pytorch.train import Recipe, TorchTrainer, predict, probe_steps
from cifar_compare.runtime import precision as precisions
from cifar_compare.runtime.environment import torch_environment
from cifar_compare.runtime.hardware import DEVICE_ENV, require_gpu_if_present
from cifar_compare.runtime.resources import cpu_name, library_versions

CUDA_FIX = (
    "install PyTorch's CUDA build (`rm -rf .venv && make setup`) and check that the NVIDIA "
    "driver is new enough for its CUDA (torch 2.14.1 needs CUDA 13: driver 580 or later; "
    "`nvidia-smi` shows it, `python -c 'import torch; print(torch.version.cuda)'` PyTorch's)"
)


def device_from_env():
    """$CIFAR_COMPARE_DEVICE (cpu, cuda, cuda:1) or 'auto', which raises GpuNotUsable on
    a machine with a GPU that PyTorch cannot use."""
    requested = os.environ.get(DEVICE_ENV, "auto")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        require_gpu_if_present("PyTorch", 0, CUDA_FIX)
        return torch.device("cpu")
    return torch.device(requested)


class PyTorch:
    name = "pytorch"

    def start(self, model_config, threads, precision):
        if threads:
            torch.set_num_threads(threads)
        self.config, self.device = model_config, device_from_env()
        on_gpu = self.device.type == "cuda"
        if on_gpu:
            # cuBLAS needs this to be deterministic; harmless otherwise.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.cuda.reset_peak_memory_stats(self.device)
        # The config's choice; by default on for CPU runs (docs/reruns.md: determinism).
        choice = model_config["deterministic"]
        self.deterministic = self.device.type == "cpu" if choice is None else choice
        torch.use_deterministic_algorithms(self.deterministic)
        self.recipe = Recipe.from_config(model_config, get_spec(model_config["architecture"]))
        self.decision = self.resolve_precision(precision)
        self.recipe = dataclasses.replace(self.recipe, precision=self.decision.precision)
        return torch.cuda.get_device_name(self.device) if on_gpu else cpu_name()

    def resolve_precision(self, choice):
        on_gpu = self.device.type == "cuda"
        gpu_bf16 = on_gpu and torch.cuda.is_bf16_supported()
        return precisions.resolve(choice, on_gpu, gpu_bf16, self.probe_steps)

    def probe_steps(self):
        """The precision probe's steps, on a model of the same architecture (no weights)."""
        return probe_steps(self.model_from(None), self.recipe, self.device)

    def model_from(self, weights):
        config = self.config
        model = get_model(config["architecture"], NUM_CLASSES, weights, config.get("dropout"))
        if config["freeze_base"]:
            freeze_all_but(model, self.recipe.head)
        return model.to(self.device, memory_format=torch.channels_last)

    def build(self, weights_path, seed):
        torch.manual_seed(seed)
        np.random.seed(seed)
        weights = None
        if weights_path:
            weights = torch.load(weights_path, map_location="cpu", weights_only=True)
        return self.model_from(weights)

    def trainer(self, model, train, val):
        tensors = [
            tuple(to_device(a, self.device) for a in (s.images, s.labels)) for s in (train, val)
        ]
        return TorchTrainer(model, *tensors, self.recipe)

    def predict(self, model, images):
        return predict(model, to_device(images, self.device), self.recipe).cpu().numpy()

    def save(self, model, record, output):
        with atomic_path(output.checkpoint) as tmp:
            torch.save({"state_dict": model.state_dict(), **record}, tmp)

    def read_record(self, inputs):
        return torch.load(inputs.checkpoint, map_location="cpu", weights_only=True)

    def load(self, record, inputs):
        model = get_model(record["architecture"], record["num_classes"])
        model.load_state_dict(record["state_dict"])
        return model.to(self.device, memory_format=torch.channels_last)

    def precision(self):
        return self.decision

    def library(self):
        return f"PyTorch {torch.__version__}"

    def peak_device_memory_mb(self):
        on_gpu = self.device.type == "cuda"
        return torch.cuda.max_memory_allocated(self.device) / 2**20 if on_gpu else None

    def environment(self):
        return torch_environment(self.device)

    def versions(self):
        # torchvision's installed version, not an import of it: its import pulls in
        # torch._dynamo, seconds of start-up that only the torchvision models need.
        return {**library_versions(torch), "torchvision": metadata.version("torchvision")}

    def layers(self, model):
        return count_parameters(model), layer_summary(model.cpu(), self.recipe.input_size)
