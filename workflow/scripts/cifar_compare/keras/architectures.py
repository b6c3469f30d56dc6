"""The Keras architectures: name -> what building and feeding one needs. Plain data (no
keras import), so the workflow checks configs against it when it loads."""

from dataclasses import dataclass

from cifar_compare.messages import known_entry


@dataclass(frozen=True)
class KerasSpec:
    application: str | None  # keras.applications module (its preprocess_input)
    constructor: str | None  # keras.applications class of the pretrained base
    min_input_size: int
    dropout: float = 0.2  # the classifier's, used when the config sets none
    batch_norm: bool = False  # alexnet_cifar_bn: BatchNorm after every conv
    local_response_norm: bool = False  # alexnet_cifar_lrn: the 2012 paper's, after conv 1, 2
    pooled_head: bool = False  # alexnet_cifar_bn_gap: global average pool, no dense layers
    imagenet_stem: bool = False  # EfficientNet: see keras.models.match_imagenet_stem


REGISTRY = {
    "alexnet_cifar": KerasSpec(None, None, 32, dropout=0.5),
    "alexnet_cifar_bn": KerasSpec(None, None, 32, dropout=0.5, batch_norm=True),
    "alexnet_cifar_bn_gap": KerasSpec(
        None, None, 32, dropout=0.5, batch_norm=True, pooled_head=True
    ),
    "alexnet_cifar_lrn": KerasSpec(None, None, 32, dropout=0.5, local_response_norm=True),
    "mobilenet_v2": KerasSpec("mobilenet_v2", "MobileNetV2", 32),
    "vgg16": KerasSpec("vgg16", "VGG16", 32),
    "resnet50": KerasSpec("resnet50", "ResNet50", 32),
    "efficientnet_b0": KerasSpec("efficientnet", "EfficientNetB0", 32, imagenet_stem=True),
}


def get_spec(name):
    return known_entry(REGISTRY, name, "Keras architecture")
