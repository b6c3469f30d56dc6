"""Keras models, built from the registry (cifar_compare.keras.architectures). Model code
does no I/O beyond Keras loading a weights file it is handed."""

import keras
from keras import layers

from cifar_compare import alexnet
from cifar_compare.data.normalization import CIFAR10_MEAN, CIFAR10_STD
from cifar_compare.keras.architectures import get_spec
from cifar_compare.keras.layers import (
    ApplicationPreprocess,
    LocalResponseNorm,
    RandomCropFlip,
    Standardize,
)
from cifar_compare.recipe import batch_norm_mode

FLOAT32 = {"dtype": "float32"}


def he_normal():
    """PyTorch's kaiming_normal_(nonlinearity="relu"): untruncated normal, std sqrt(2/fan_in)."""
    return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")


BATCH_NORM = {"momentum": 1 - alexnet.BN_MOMENTUM, "epsilon": alexnet.BN_EPS}


def _conv_block(x, filters, batch_norm):
    """3x3 conv and ReLU, with BatchNorm between them (conv bias dropped) under batch_norm."""
    init = he_normal()
    if not batch_norm:
        return layers.Conv2D(
            filters, 3, padding="same", activation="relu", kernel_initializer=init
        )(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init)(x)
    x = layers.BatchNormalization(**BATCH_NORM)(x)
    return layers.ReLU()(x)


def _dense(units, **kwargs):
    # he_normal() is built even when unused (the head): building an unseeded Keras
    # initialiser draws a seed from Python's random, so skipping it would change every
    # later draw from it (the seeds of later initialisers and dropout layers).
    kwargs.setdefault("kernel_initializer", he_normal())
    return layers.Dense(units, **kwargs)


def alexnet_cifar_body(x, spec, num_classes, dropout):
    """Layer for layer the PyTorch AlexNetCifar (`spec`'s batch_norm: alexnet_cifar_bn,
    local_response_norm: alexnet_cifar_lrn, pooled_head: alexnet_cifar_bn_gap), initialised
    the same way."""
    for index, (filters, pool) in enumerate(alexnet.CONVS):
        x = _conv_block(x, filters, spec.batch_norm)
        if spec.local_response_norm and index < alexnet.LRN_CONVS:
            x = LocalResponseNorm(**alexnet.LRN)(x)
        if pool:
            x = layers.MaxPooling2D(2)(x)
    if spec.pooled_head:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(dropout)(x)
    else:
        x = layers.Flatten()(x)
        x = layers.Dropout(dropout)(x)
        x = _dense(alexnet.DENSE[0], activation="relu")(x)
        x = layers.Dropout(dropout)(x)
        x = _dense(alexnet.DENSE[1], activation="relu")(x)
    head = keras.initializers.RandomNormal(stddev=0.01)
    return _dense(num_classes, kernel_initializer=head, dtype="float32", name="head")(x)


# keras.applications.efficientnet's IMAGENET_STDDEV_RGB.
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


def match_imagenet_stem(base):
    """Make an EfficientNet loaded from a weights file compute what Keras' own
    weights="imagenet" model computes: only for that does Keras add a stem
    Rescaling(1 / sqrt(std)) (tensorflow/tensorflow#49930). Folded into the normalisation's
    variance, a non-trainable weight saved with the model, it reaches evaluation too."""
    norm = next(layer for layer in base.layers if isinstance(layer, layers.Normalization))
    std = keras.ops.convert_to_tensor(IMAGENET_STD_RGB, dtype=norm.adapt_variance.dtype)
    norm.adapt_variance.assign(norm.adapt_variance * std)
    norm.finalize_state()


def build_base(spec, input_size, weights_path):
    """The pretrained application without its top, weights from `weights_path` (or none)."""
    constructor = getattr(keras.applications, spec.constructor)
    base = constructor(
        include_top=False, weights=weights_path, input_shape=(input_size, input_size, 3)
    )
    if weights_path is not None and spec.imagenet_stem:
        match_imagenet_stem(base)
    return base


def get_model(name, config, num_classes=10, weights_path=None, seed=None):
    """(model, base): the full model on uint8 32x32 input (augmentation, resize,
    preprocessing, network) and its pretrained application (None from scratch)."""
    spec = get_spec(name)
    size = config["input_size"]
    dropout = spec.dropout if config.get("dropout") is None else config["dropout"]
    aug = config["augmentation"]
    inputs = keras.Input((32, 32, 3), dtype="uint8", name="images")
    # Preprocessing stays in float32 under a mixed policy, as on the PyTorch side.
    x = RandomCropFlip(aug["crop_padding"], aug["flip"], seed, name="augment", **FLOAT32)(inputs)
    if size != 32:
        x = layers.Resizing(size, size, interpolation="bilinear", name="resize", **FLOAT32)(x)
    if spec.constructor is None:
        normalization = config.get("normalization") or {}
        mean = normalization.get("mean", CIFAR10_MEAN)
        std = normalization.get("std", CIFAR10_STD)
        x = Standardize(mean, std, name="standardize", **FLOAT32)(x)
        outputs = alexnet_cifar_body(x, spec, num_classes, dropout)
        return keras.Model(inputs, outputs, name=name), None
    x = ApplicationPreprocess(spec.application, name="preprocess", **FLOAT32)(x)
    base = build_base(spec, size, weights_path)
    frozen_norm = batch_norm_mode(config) == "frozen"
    # training=False keeps BatchNorm in inference mode, also when unfrozen.
    x = base(x, training=False) if frozen_norm else base(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs, name=name), base


def set_trainable_top(base, count, batch_norm):
    """Unfreeze the top `count` layers of the base (0 = all); their BatchNorm layers
    too unless `batch_norm` is 'frozen' (cifar_compare.recipe.batch_norm_mode)."""
    base.trainable = True
    cut = 0 if count == 0 else max(0, len(base.layers) - count)
    for index, layer in enumerate(base.layers):
        frozen_norm = batch_norm == "frozen" and isinstance(layer, layers.BatchNormalization)
        layer.trainable = index >= cut and not frozen_norm


def running_statistics(layer):
    """The BatchNorm moving means and variances in `layer` (a model: in all its layers).
    State, not parameters: PyTorch keeps them as buffers, and both count alike."""
    if isinstance(layer, layers.BatchNormalization):
        return [layer.moving_mean, layer.moving_variance]
    return [s for inner in getattr(layer, "layers", []) for s in running_statistics(inner)]


def parameter_count(layer):
    """How many numbers `layer` learns or loads: its weights less its BatchNorm running
    statistics."""
    statistics = {id(s) for s in running_statistics(layer)}
    return sum(int(keras.ops.size(w)) for w in layer.weights if id(w) not in statistics)


def count_parameters(model):
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {"total": parameter_count(model), "trainable": trainable}


def layer_summary(model):
    """(layer type, output shape, parameters) of every top-level layer after the input."""
    return [
        (type(layer).__name__, tuple(layer.output.shape[1:]), parameter_count(layer))
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
