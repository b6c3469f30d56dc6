"""The PyTorch architectures: name -> what building and feeding one needs. Plain data (no
torch import), so the workflow checks configs against it when it loads."""

from dataclasses import dataclass

from cifar_compare.data.normalization import CIFAR10_MEAN, CIFAR10_STD, IMAGENET_MEAN, IMAGENET_STD
from cifar_compare.messages import known_entry


@dataclass(frozen=True)
class ModelSpec:
    mean: tuple
    std: tuple
    min_input_size: int
    head: str  # the classification layer, the only one trained under freeze_base
    torchvision: str | None = None  # torchvision.models constructor; None: AlexNetCifar
    batch_norm: bool = False  # alexnet_cifar_bn: BatchNorm after every conv
    local_response_norm: bool = False  # alexnet_cifar_lrn: the 2012 paper's, after conv 1, 2
    pooled_head: bool = False  # alexnet_cifar_bn_gap: global average pool, no dense layers
    dropout: float = 0.5  # the architecture's own, used when the config sets none


REGISTRY = {
    "alexnet_cifar": ModelSpec(CIFAR10_MEAN, CIFAR10_STD, 32, "classifier.7"),
    "alexnet_cifar_bn": ModelSpec(CIFAR10_MEAN, CIFAR10_STD, 32, "classifier.7", batch_norm=True),
    "alexnet_cifar_bn_gap": ModelSpec(
        CIFAR10_MEAN, CIFAR10_STD, 32, "classifier.3", batch_norm=True, pooled_head=True
    ),
    "alexnet_cifar_lrn": ModelSpec(
        CIFAR10_MEAN, CIFAR10_STD, 32, "classifier.7", local_response_norm=True
    ),
    # torchvision's AlexNet pools down to nothing below 63 px.
    "alexnet": ModelSpec(IMAGENET_MEAN, IMAGENET_STD, 63, "classifier.6", torchvision="alexnet"),
}


def get_spec(name):
    return known_entry(REGISTRY, name, "PyTorch architecture")
