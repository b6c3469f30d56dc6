"""The two frameworks' AlexNets are the same network and train the same way: weights
copied from PyTorch into Keras give the same outputs, and one training step through
each framework's own training code gives the same updated weights."""

import keras
import numpy as np
import pytest
import torch
from cifar_compare.keras import models as keras_models
from cifar_compare.keras.train import Phase, compile_phase
from cifar_compare.pytorch import models as torch_models
from cifar_compare.pytorch.data import to_model_input
from cifar_compare.pytorch.train import Recipe, make_optimizer, optimization_step
from torch import nn

WEIGHTED = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
KERAS_WEIGHTED = (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Dense)


def model_config(optimizer, architecture="alexnet_cifar"):
    """A config entry as the schema fills it: no augmentation, no dropout, so a step
    depends only on the weights, the batch and the optimizer."""
    return {
        "architecture": architecture,
        "pretrained": False,
        "input_size": 32,
        "epochs": 1,
        "batch_size": 16,
        "augmentation": {"crop_padding": 0, "flip": False},
        "normalization": None,
        "dropout": 0.0,
        "label_smoothing": 0.1,  # as in config/config.yaml
        "schedule": {"name": "constant", "warmup_fraction": 0.0, "final_factor": 0.0},
        "freeze_base": False,
        "fine_tune": None,
        "optimizer": {
            "momentum": 0.9,
            "nesterov": True,
            "betas": [0.9, 0.999],
            "head_lr_factor": 1.0,
            **optimizer,
        },
    }


def torch_to_keras(module, layer, first_dense):
    """One layer's PyTorch parameters in Keras' layout."""
    if isinstance(module, nn.BatchNorm2d):
        tensors = [module.weight, module.bias, module.running_mean, module.running_var]
        return [t.detach().numpy() for t in tensors]
    weight = module.weight.detach()
    if isinstance(module, nn.Conv2d):
        kernel = weight.permute(2, 3, 1, 0)  # (out, in, h, w) -> (h, w, in, out)
    elif first_dense:
        # PyTorch flattens (channels, 4, 4), Keras (4, 4, channels).
        kernel = weight.reshape(weight.shape[0], -1, 4, 4).permute(2, 3, 1, 0).flatten(0, 2)
    else:
        kernel = weight.T
    bias = [] if module.bias is None else [module.bias.detach().numpy()]
    return [kernel.numpy(), *bias]


def weighted_pairs(torch_model, keras_model):
    modules = [m for m in torch_model.modules() if isinstance(m, WEIGHTED)]
    layers = [layer for layer in keras_model.layers if isinstance(layer, KERAS_WEIGHTED)]
    kinds = {keras.layers.Conv2D: nn.Conv2d, keras.layers.BatchNormalization: nn.BatchNorm2d}
    expected = [kinds.get(type(layer), nn.Linear) for layer in layers]
    assert all(isinstance(m, kind) for m, kind in zip(modules, expected, strict=True))
    return list(zip(modules, layers, strict=True))


def copy_torch_to_keras(torch_model, keras_model):
    """Set every Keras weight (BatchNorm running statistics too) from the PyTorch model."""
    first_dense = True
    for module, layer in weighted_pairs(torch_model, keras_model):
        layer.set_weights(
            torch_to_keras(module, layer, isinstance(module, nn.Linear) and first_dense)
        )
        first_dense = first_dense and not isinstance(module, nn.Linear)


def keras_layout(torch_model, keras_model):
    """Every layer's PyTorch parameters in Keras' layout (copies)."""
    first_dense, weights = True, []
    for module, layer in weighted_pairs(torch_model, keras_model):
        is_first = isinstance(module, nn.Linear) and first_dense
        weights += [w.copy() for w in torch_to_keras(module, layer, is_first)]
        first_dense = first_dense and not isinstance(module, nn.Linear)
    return weights


def keras_weights(torch_model, keras_model):
    return [w for _, layer in weighted_pairs(torch_model, keras_model) for w in layer.get_weights()]


def paired_models(config, seed=0):
    """The PyTorch model, with random biases (so that decaying them would show), and
    the Keras model holding the same weights."""
    torch.manual_seed(seed)
    torch_model = torch_models.get_model(config["architecture"], dropout=config["dropout"])
    with torch.no_grad():
        for module in torch_model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
                module.bias.normal_(0, 0.1)
    keras_model, _ = keras_models.get_model(config["architecture"], config)
    copy_torch_to_keras(torch_model, keras_model)
    return torch_model, keras_model


def batch(seed=0, size=16):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size)


def torch_step(model, config, images, labels):
    spec = torch_models.get_spec(config["architecture"])
    recipe = Recipe.from_config(config, spec)
    optimizer, scheduler = make_optimizer(model, recipe, steps_per_epoch=1)
    model.train()
    x = to_model_input(torch.from_numpy(images), recipe.mean, recipe.std, recipe.input_size)
    optimization_step(model, x, torch.from_numpy(labels), recipe, optimizer, scheduler)


def keras_step(model, config, images, labels):
    compile_phase(model, None, Phase(1, 1, config["optimizer"]["lr"], 0), config)
    model.train_on_batch(images, keras.utils.to_categorical(labels, 10))


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "sgd", "lr": 0.05, "weight_decay": 5e-3, "eps": 1e-8},
        {"name": "adam", "lr": 1e-3, "weight_decay": 0.05, "eps": 1e-8},
        {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05, "eps": 1e-8},
    ],
    ids=lambda settings: settings["name"],
)
def test_one_training_step_updates_the_same_weights(optimizer):
    """From identical weights, one step on one batch moves every weight the same way in
    both frameworks: the loss with label smoothing, coupled L2 (sgd, adam) or decoupled
    decay (adamw) on weights but never on biases, the optimizer's update. Tolerance:
    per tensor, the two updates differ by less than 0.2 % of the update's norm
    (measured: ~1e-5 for SGD; up to ~1e-3 for Adam, whose first step, about
    lr * sign(gradient), amplifies float32 differences in near-zero gradients).
    Missing coupled L2, decay on biases or Keras' own epsilon placement (4 %) fail it."""
    config = model_config(optimizer)
    torch_model, keras_model = paired_models(config)
    start = keras_layout(torch_model, keras_model)
    images, labels = batch()
    torch_step(torch_model, config, images, labels)
    keras_step(keras_model, config, images, labels)
    theirs, ours = keras_layout(torch_model, keras_model), keras_weights(torch_model, keras_model)
    for before, after, keras_after in zip(start, theirs, ours, strict=True):
        step = np.linalg.norm(after - before)
        assert step > 1e-4 * np.linalg.norm(before)  # every tensor did move
        assert np.linalg.norm(keras_after - after) < 2e-3 * step


def test_alexnet_cifar_bn_is_the_same_network_in_both_frameworks():
    """Layer for layer, BatchNorm settings included: after copying weights and running
    statistics, the eval-mode outputs agree (relative error below 1e-5)."""
    config = model_config({"name": "sgd", "lr": 0.01}, "alexnet_cifar_bn")
    torch_model, keras_model = paired_models(config)
    norms = [m for m in torch_model.modules() if isinstance(m, nn.BatchNorm2d)]
    keras_norms = [
        layer for layer in keras_model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == len(keras_norms) == 5
    for norm, keras_norm in zip(norms, keras_norms, strict=True):
        # PyTorch's momentum weighs the new batch, Keras' the running average.
        assert keras_norm.momentum == pytest.approx(1 - norm.momentum)
        assert keras_norm.epsilon == pytest.approx(norm.eps)
        rng = np.random.default_rng(len(norm.running_mean))
        norm.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.5, norm.num_features)))
        norm.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, norm.num_features)))
    copy_torch_to_keras(torch_model, keras_model)  # again, with the new statistics
    images, _ = batch()
    spec = torch_models.get_spec("alexnet_cifar_bn")
    with torch.no_grad():
        x = to_model_input(torch.from_numpy(images), spec.mean, spec.std, 32)
        expected = torch_model.eval()(x).numpy()
    ours = keras.ops.convert_to_numpy(keras_model(images, training=False))
    assert np.linalg.norm(ours - expected) < 1e-5 * np.linalg.norm(expected)
