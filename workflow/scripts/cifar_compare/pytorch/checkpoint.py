"""Build, save and rebuild PyTorch checkpoints that carry their own hyperparameters."""

import dataclasses
import os

import torch

from cifar_compare.fileio import atomic_path
from cifar_compare.pytorch.models import get_model, get_spec
from cifar_compare.pytorch.train import Recipe
from cifar_compare.runtime.hardware import DEVICE_ENV, require_gpu_if_present
from cifar_compare.runtime.resources import cpu_name

CUDA_FIX = (
    "install PyTorch's CUDA build (`rm -rf .venv && make setup`) and check that the NVIDIA "
    "driver is new enough for its CUDA (torch 2.14.1 needs CUDA 13: driver 580 or later; "
    "`nvidia-smi` shows it, `python -c 'import torch; print(torch.version.cuda)'` PyTorch's)"
)


def device_from_env():
    """The training device: $CIFAR_COMPARE_DEVICE (cpu, cuda, cuda:1) or 'auto'.

    'auto' on a machine with a GPU that PyTorch cannot use raises GpuNotUsable.
    """
    requested = os.environ.get(DEVICE_ENV, "auto")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        require_gpu_if_present("PyTorch", 0, CUDA_FIX)
        return torch.device("cpu")
    return torch.device(requested)


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name()


def save_checkpoint(path, model, **record):
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), **record}, tmp)


def load_checkpoint(path, device):
    """Return (model on device, recipe, checkpoint record)."""
    record = torch.load(path, map_location=device, weights_only=True)
    spec = get_spec(record["architecture"])
    model = get_model(record["architecture"], record["num_classes"])
    model.load_state_dict(record["state_dict"])
    recipe = Recipe.from_config(record["model_config"], spec)
    # Evaluate in the precision the model was trained in (fp32 for older checkpoints).
    trained_in = record["train_summary"].get("precision", "fp32")
    recipe = dataclasses.replace(recipe, precision=trained_in)
    return model.to(device, memory_format=torch.channels_last), recipe, record
