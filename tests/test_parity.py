"""The two frameworks' AlexNets are the same network and train the same way: weights
copied from PyTorch into Keras give the same outputs, and one training step through
each framework's own training code gives the same updated weights."""

import keras
import numpy as np
import pytest
import torch
from cifar_compare.alexnet import FLAT_FEATURES, POOLED_FEATURES
from cifar_compare.epochs import fit
from cifar_compare.keras import models as keras_models
from cifar_compare.keras.train import KerasTrainer, Phase, compile_phase
from cifar_compare.pytorch import models as torch_models
from cifar_compare.pytorch.data import to_model_input
from cifar_compare.pytorch.train import Recipe, TorchTrainer, make_optimizer, optimization_step
from cifar_compare.runtime.interruption import StopRequest
from cifar_compare.runtime.progress import EpochProgress
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
        "ema_decay": None,
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
    elif first_dense and weight.shape[1] == FLAT_FEATURES:
        # PyTorch flattens (channels, 4, 4), Keras (4, 4, channels); a pooled head has
        # no spatial positions left to reorder.
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


def assert_same_step(torch_model, keras_model, start):
    """Every tensor moved from `start` (Keras layout), and the two frameworks' moves agree
    to 0.2 % of the step (BatchNorm running variances to 1 %: PyTorch updates them with
    the batch's unbiased variance, Keras with the biased one)."""
    theirs, ours = keras_layout(torch_model, keras_model), keras_weights(torch_model, keras_model)
    names = [w.path for _, layer in weighted_pairs(torch_model, keras_model) for w in layer.weights]
    for name, before, after, keras_after in zip(names, start, theirs, ours, strict=True):
        step = np.linalg.norm(after - before)
        assert step > 1e-4 * np.linalg.norm(before), name
        tolerance = 1e-2 if name.endswith("moving_variance") else 2e-3
        assert np.linalg.norm(keras_after - after) < tolerance * step, name


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


def eval_outputs(torch_model, keras_model, architecture, images):
    spec = torch_models.get_spec(architecture)
    with torch.no_grad():
        x = to_model_input(torch.from_numpy(images), spec.mean, spec.std, 32)
        expected = torch_model.eval()(x).numpy()
    return expected, keras.ops.convert_to_numpy(keras_model(images, training=False))


def lrn_by_hand(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """Krizhevsky et al. (2012), eq. in section 3.3, on channels-last activations:
    a / (k + alpha * sum of squares over the channels c - 2 .. c + 2)**beta."""
    out = np.empty_like(a)
    for c in range(a.shape[-1]):
        window = a[..., max(0, c - size // 2) : c + (size - 1) // 2 + 1]
        out[..., c] = a[..., c] / (k + alpha * (window**2).sum(-1)) ** beta
    return out


def test_local_response_norm_is_the_2012_papers_in_both_frameworks():
    """Both LRN layers against the paper's formula worked by hand (alpha on the window's
    sum, k=2, n=5, beta=0.75), at activations large enough for the sum to matter."""
    from cifar_compare.alexnet import LRN
    from cifar_compare.keras.layers import LocalResponseNorm

    a = np.random.default_rng(0).uniform(0, 60, (2, 3, 3, 8)).astype(np.float32)
    expected = lrn_by_hand(a.astype(np.float64))
    keras_out = LocalResponseNorm(**LRN)(a)
    torch_lrn = [m for m in torch_models.get_model("alexnet_cifar_lrn").modules()]
    torch_lrn = next(m for m in torch_lrn if isinstance(m, nn.LocalResponseNorm))
    torch_out = torch_lrn(torch.from_numpy(a).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_out), expected, rtol=1e-5)
    np.testing.assert_allclose(torch_out.numpy(), expected, rtol=1e-5)


def assert_same_outputs_and_step(torch_model, keras_model, config):
    """Eval outputs agree after copying the weights, then one step moves every weight
    the same way in both frameworks."""
    images, labels = batch()
    expected, ours = eval_outputs(torch_model, keras_model, config["architecture"], images)
    assert np.linalg.norm(ours - expected) < 1e-5 * np.linalg.norm(expected)
    start = keras_layout(torch_model, keras_model)
    torch_step(torch_model, config, images, labels)
    keras_step(keras_model, config, images, labels)
    assert_same_step(torch_model, keras_model, start)


def test_alexnet_cifar_lrn_is_the_same_network_and_step_in_both_frameworks():
    """LRN after the first two convs, as the paper: eval outputs agree after copying the
    weights (LRN divides them by about 2**0.75, so a missing or misplaced LRN fails),
    and one SGD step moves every weight the same way (0.2 % of the step)."""
    config = model_config({"name": "sgd", "lr": 0.05, "weight_decay": 5e-3}, "alexnet_cifar_lrn")
    torch_model, keras_model = paired_models(config)
    kinds = [type(m).__name__ for m in torch_model.features]
    assert kinds[:7] == [
        "Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d",
        "Conv2d", "ReLU", "LocalResponseNorm",
    ]  # fmt: skip
    assert kinds.count("LocalResponseNorm") == 2
    assert_same_outputs_and_step(torch_model, keras_model, config)


def test_alexnet_cifar_bn_gap_is_the_same_network_and_step_in_both_frameworks():
    """The pooled head: the BN variant's convs, a global average pool and the 10-class
    layer, no dense layers (so a head that flattened instead, or kept a dense layer,
    fails the shapes); eval outputs agree after copying the weights and one SGD step
    with coupled L2 moves every weight the same way."""
    # lr 0.5: through the pooled head some BatchNorm scales' first step is small.
    optimizer = {"name": "sgd", "lr": 0.5, "weight_decay": 5e-3}
    config = model_config(optimizer, "alexnet_cifar_bn_gap")
    torch_model, keras_model = paired_models(config)
    linears = [m for m in torch_model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(POOLED_FEATURES, 10)]
    dense = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.Dense)]
    assert [tuple(layer.kernel.shape) for layer in dense] == [(POOLED_FEATURES, 10)]
    assert_same_outputs_and_step(torch_model, keras_model, config)


def one_epoch_of_one_step(trainer, config, steps=1):
    trainer.begin(Phase(1, 1, config["optimizer"]["lr"], None), steps)
    progress = EpochProgress(lambda *_: None, 1, 1, steps, config["batch_size"])
    assert trainer.train_epoch(1, 0, StopRequest(), progress) is not None


def ema_trainers(config, images, labels):
    """A TorchTrainer and a KerasTrainer of `config` on the same weights and batch."""
    torch_model, keras_model = paired_models(config)
    spec = torch_models.get_spec(config["architecture"])
    empty = (torch.zeros((0, 32, 32, 3), dtype=torch.uint8), torch.zeros(0, dtype=torch.long))
    train = (torch.from_numpy(images), torch.from_numpy(labels))
    torch_trainer = TorchTrainer(torch_model, train, empty, Recipe.from_config(config, spec))
    keras_val = (images[:0], labels[:0])
    keras_trainer = KerasTrainer(keras_model, None, (images, labels), keras_val, config)
    return torch_model, keras_model, torch_trainer, keras_trainer


def test_fit_ends_with_the_averaged_weights_in_the_model():
    """The shared epoch loop leaves each framework's model holding the average."""
    optimizer = {"name": "sgd", "lr": 0.05, "weight_decay": 5e-3}
    config = {**model_config(optimizer), "ema_decay": 0.5, "epochs": 2}
    images, labels = batch()
    torch_model, keras_model, torch_trainer, keras_trainer = ema_trainers(config, images, labels)
    for trainer in (torch_trainer, keras_trainer):
        fit(trainer, config, 0, lambda *_: None)
    torch_average = torch_trainer.average.average
    assert all(torch.equal(torch_model.state_dict()[k], v) for k, v in torch_average.items())
    kept = [keras.ops.convert_to_numpy(w) for w in keras_model.weights]
    assert all(
        np.array_equal(w, a) for w, a in zip(kept, keras_trainer.average.values(), strict=True)
    )


def test_weight_averaging_is_the_same_in_both_frameworks():
    """ema_decay through each framework's own trainer, one step of one batch on the
    BatchNorm variant: after finish() each model holds decay x start + (1 - decay) x
    trained, for the weights and the BatchNorm statistics alike (checked by hand within
    each framework), and the two averages agree to 0.2 % of the step (1 % for the
    running variances, which the two frameworks update differently)."""
    config = {
        **model_config({"name": "sgd", "lr": 0.05, "weight_decay": 5e-3}, "alexnet_cifar_bn"),
        "ema_decay": 0.75,
    }
    images, labels = batch()
    torch_model, keras_model, torch_trainer, keras_trainer = ema_trainers(config, images, labels)
    start = keras_layout(torch_model, keras_model)
    averages = []
    for trainer in (torch_trainer, keras_trainer):
        one_epoch_of_one_step(trainer, config)
        trained = (
            keras_layout(torch_model, keras_model)
            if trainer is torch_trainer
            else keras_weights(torch_model, keras_model)
        )
        trainer.finish()
        average = (
            keras_layout(torch_model, keras_model)
            if trainer is torch_trainer
            else keras_weights(torch_model, keras_model)
        )
        for before, after, mean in zip(start, trained, average, strict=True):
            assert np.linalg.norm(after - before) > 1e-4 * np.linalg.norm(before)
            by_hand = 0.75 * before + 0.25 * after
            assert np.linalg.norm(mean - by_hand) <= 1e-4 * np.linalg.norm(after - before)
        averages.append(average)
    names = [w.path for _, layer in weighted_pairs(torch_model, keras_model) for w in layer.weights]
    for name, before, torch_mean, keras_mean in zip(names, start, *averages, strict=True):
        step = np.linalg.norm(torch_mean - before)
        # PyTorch's running variance takes the batch's unbiased variance, Keras' the
        # biased one: a framework difference of 1 / (n - 1), not the averaging's.
        tolerance = 1e-2 if name.endswith("moving_variance") else 2e-3
        assert np.linalg.norm(keras_mean - torch_mean) < tolerance * step
