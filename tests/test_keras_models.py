"""Keras registry, its match with the PyTorch AlexNet, pretrained weights and backends."""

import json
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
from cifar_compare.keras import models as keras_models
from cifar_compare.keras.layers import RandomCropFlip
from cifar_compare.keras.train import build_optimizer
from cifar_compare.pytorch import models as torch_models
from cifar_compare.weights import UnofficialWeightsError, fetch_weights
from cifar_fixtures import KERAS_CONSTRUCTORS, write_standin_keras_weights
from conftest import REPO

CONFIG = {
    "input_size": 32,
    "augmentation": {"crop_padding": 4, "flip": True},
    "normalization": None,
}


def keras_layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize(
    "architecture", ["alexnet_cifar_bn", "alexnet_cifar_bn_gap", "alexnet_cifar_lrn"]
)
def test_every_scratch_variant_counts_the_same_parameters_as_pytorch(architecture):
    """BatchNorm's running statistics are state in both (PyTorch's buffers), not parameters."""
    keras_model, _ = keras_models.get_model(architecture, CONFIG)
    torch_model = torch_models.get_model(architecture)
    assert keras_models.count_parameters(keras_model) == torch_models.count_parameters(torch_model)
    keras_rows = [row[2] for row in keras_models.layer_summary(keras_model)]
    assert sum(keras_rows) == torch_models.count_parameters(torch_model)["total"]


def test_a_nested_base_counts_as_torchvisions_mobilenet_v2():
    """MobileNetV2's base is one layer of the Keras model: its 52 BatchNorm layers' running
    statistics are found inside it. torchvision's MobileNetV2 with a 10-class head has the
    same weights."""
    import torchvision

    keras_model, _ = keras_models.get_model("mobilenet_v2", {**CONFIG, "pretrained": True})
    reference = torchvision.models.mobilenet_v2(num_classes=10)
    total = sum(p.numel() for p in reference.parameters())
    assert keras_models.count_parameters(keras_model)["total"] == total
    assert sum(row[2] for row in keras_models.layer_summary(keras_model)) == total


def test_alexnet_cifar_matches_pytorch_layer_for_layer():
    keras_model, _ = keras_models.get_model("alexnet_cifar", CONFIG)
    torch_model = torch_models.get_model("alexnet_cifar")
    kinds = keras_layer_kinds(keras_model)
    assert (kinds.count("Conv2D"), kinds.count("MaxPooling2D"), kinds.count("Dense")) == (5, 3, 3)
    keras_params = [layer.count_params() for layer in keras_model.layers if layer.count_params()]
    torch_params = [
        sum(p.numel() for p in m.parameters())
        for m in torch_model.modules()
        if isinstance(m, (torch_models.nn.Conv2d, torch_models.nn.Linear))
    ]
    assert keras_params == torch_params
    assert keras_models.count_parameters(keras_model) == torch_models.count_parameters(torch_model)


def updates_after_steps(step_torch, step_keras, start, gradients):
    """Parameters after applying the same gradients with a PyTorch and a Keras optimizer."""
    import torch

    parameter = torch.nn.Parameter(torch.tensor(start))
    variable = keras.Variable(start)
    torch_optimizer, keras_optimizer = step_torch([parameter]), step_keras()
    for gradient in gradients:
        parameter.grad = torch.tensor(gradient)
        torch_optimizer.step()
        keras_optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
    return parameter.detach().numpy(), keras.ops.convert_to_numpy(variable)


@pytest.mark.parametrize(
    "settings",
    [  # the shared AlexNet's recipe in config/config.yaml, and the original study's Adam
        {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05, "betas": [0.9, 0.999], "eps": 1e-8},
        {"name": "adam", "lr": 1e-3, "weight_decay": 0.0, "betas": [0.8, 0.99], "eps": 1e-7},
    ],
    ids=["adamw", "adam"],
)
def test_optimizer_settings_are_pytorchs(settings):
    """The Keras optimizer built from a config moves weights as PyTorch's built from it."""
    from cifar_compare.pytorch.train import build_optimizer as build_torch_optimizer

    rng = np.random.default_rng(0)
    start = rng.normal(size=256).astype(np.float32)
    # Gradients of order 1; epsilon's effect on small gradients (where Keras' own
    # Adam differs from PyTorch's) is checked in tests/test_parity.py.
    gradients = [rng.normal(size=256).astype(np.float32) for _ in range(5)]
    keras_optimizer = build_optimizer(settings, settings["lr"])
    theirs, ours = updates_after_steps(
        lambda params: build_torch_optimizer(params, settings),
        lambda: keras_optimizer,
        start,
        gradients,
    )
    step = theirs - start
    assert np.abs(step).mean() > 1e-3  # the weights did move
    assert np.linalg.norm(ours - theirs) < 1e-4 * np.linalg.norm(step)
    assert keras_optimizer.epsilon == settings["eps"]
    assert (keras_optimizer.beta_1, keras_optimizer.beta_2) == tuple(settings["betas"])


def test_kernel_init_is_pytorchs_he_normal():
    """He-normal as PyTorch draws it: untruncated, std sqrt(2 / fan_in)."""
    import torch

    fan_in, fan_out = 2048, 256
    keras_kernel = keras.ops.convert_to_numpy(keras_models.he_normal()((fan_in, fan_out)))
    torch_kernel = torch.empty(fan_out, fan_in)
    torch.nn.init.kaiming_normal_(torch_kernel, nonlinearity="relu")
    expected_std = np.sqrt(2 / fan_in)
    for kernel in (keras_kernel, torch_kernel.numpy()):
        assert kernel.std() == pytest.approx(expected_std, rel=0.02)
        assert np.abs(kernel).max() > 3.5 * expected_std  # not truncated at 2 std


def test_random_crops_are_per_image_and_inference_is_identity():
    layer = RandomCropFlip(padding=4, flip=False, seed=0)
    images = np.tile(np.arange(32, dtype=np.uint8)[None, :, None, None], (64, 1, 32, 3))
    cropped = keras.ops.convert_to_numpy(layer(images, training=True))
    assert cropped.shape == images.shape
    assert len({tuple(row) for row in cropped[:, :, 5, 0]}) > 1  # offsets differ per image
    same = keras.ops.convert_to_numpy(layer(images, training=False))
    assert np.array_equal(same, images.astype(np.float32))
    # Keras 3 derives the layer's config from its constructor's arguments.
    assert RandomCropFlip.from_config(layer.get_config()).padding == 4


@pytest.mark.parametrize("architecture", sorted(KERAS_CONSTRUCTORS))
def test_standin_weights_load_through_the_real_loader(tmp_path, architecture):
    path = tmp_path / f"{architecture}_no_top.h5"
    reference = write_standin_keras_weights(path, architecture, input_size=32)
    config = {**CONFIG, "pretrained": True}
    model, base = keras_models.get_model(architecture, config, weights_path=str(path))
    if keras_models.get_spec(architecture).imagenet_stem:
        keras_models.match_imagenet_stem(reference)  # the one weight changed on loading
    loaded = [w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in base.get_weights()]
    expected = reference.get_weights()
    assert len(loaded) == len(expected) > 0
    assert all(np.array_equal(a, b) for a, b in zip(loaded, expected, strict=True))
    assert model.output.shape[-1] == 10


def test_tampered_weights_are_refused(tmp_path):
    path = tmp_path / "vgg16_notop.h5"
    write_standin_keras_weights(path, "vgg16", input_size=32)
    target = tmp_path / "out.h5"
    with pytest.raises(UnofficialWeightsError, match="not the official vgg16_imagenet_no_top"):
        fetch_weights("vgg16_imagenet_no_top", str(path), target, False)
    assert not target.exists()
    record = fetch_weights("vgg16_imagenet_no_top", str(path), target, True)
    assert record["official"] is False and "md5 published" in record["checked_against"]


def test_mobilenet_is_verified_only_against_a_pinned_hash(tmp_path, monkeypatch):
    name = "mobilenet_v2_imagenet_no_top_128"
    first, other = tmp_path / "first.h5", tmp_path / "other.h5"
    first.write_bytes(b"the file the official URL served")
    other.write_bytes(b"a different file")
    official = fetch_weights.__globals__["OFFICIAL_WEIGHTS"]
    # The real entry (size ceiling included), served from a local file, with no published hash.
    monkeypatch.setitem(official, name, {**official[name], "url": str(first), "digest": None})
    with pytest.raises(UnofficialWeightsError, match="cannot be verified.*make pin-weights"):
        fetch_weights(name, None, tmp_path / "a.h5", False)  # even from the official URL
    assert not (tmp_path / "a.h5").exists()
    unpinned = fetch_weights(name, None, tmp_path / "a.h5", True)
    assert unpinned["official"] is False and unpinned["official_hash"] is None
    pinned = unpinned["sha256"]
    record = fetch_weights(name, None, tmp_path / "b.h5", False, pinned)
    assert record["official"] is True and "pinned" in record["checked_against"]
    with pytest.raises(UnofficialWeightsError, match="sha256 pinned in config/weights.lock.json"):
        fetch_weights(name, str(other), tmp_path / "c.h5", False, pinned)


TRAIN_ONE_EPOCH = """
import json, sys
sys.path.insert(0, "workflow/scripts")
from cifar_compare.keras.runtime import select_backend
select_backend(sys.argv[1])
import keras, numpy as np
from cifar_compare.keras.models import get_model
from cifar_compare.epochs import fit
from cifar_compare.keras.train import KerasTrainer
config = {"input_size": 32, "augmentation": {"crop_padding": 4, "flip": True},
          "normalization": None, "epochs": 1, "batch_size": 16, "label_smoothing": 0.1,
          "freeze_base": False, "fine_tune": None,
          "schedule": {"name": "onecycle", "warmup_fraction": 0.2, "final_factor": 0.0},
          "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05,
                        "betas": [0.9, 0.999], "eps": 1e-8}}
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
labels = rng.integers(0, 10, 64)
model, base = get_model("alexnet_cifar", config, seed=0)
before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
trainer = KerasTrainer(model, base, (images, labels), (images[:16], labels[:16]), config)
rows = fit(trainer, config, 0, print)
after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
changed = [not np.array_equal(b, a) for b, a in zip(before, after)]
print(json.dumps({"backend": keras.backend.backend(), "rows": rows, "changed": changed}))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_alexnet_cifar_trains_under_backend(backend):
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_ONE_EPOCH, backend],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    assert len(result["rows"]) == 1 and np.isfinite(result["rows"][0]["train_loss"])
    # Every kernel and bias (5 conv + 3 dense layers) was updated by the training.
    assert len(result["changed"]) == 16 and all(result["changed"])


def relative_error(ours, reference):
    ours, reference = keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(reference)
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


def write_standin_with_imagenet_stats(path, architecture, size):
    """Stand-in no-top weights; EfficientNet's stem normalisation gets ImageNet-like
    statistics (not the untrained 0 and 1), so a wrong scaling or shift shows."""
    from keras.src.legacy.saving import legacy_h5_format

    model = write_standin_keras_weights(path, architecture, input_size=size)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)]
    for norm in norms:
        norm.adapt_mean.assign([0.485, 0.456, 0.406])
        norm.adapt_variance.assign([0.229, 0.224, 0.225])
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)


@pytest.mark.parametrize("architecture", sorted(KERAS_CONSTRUCTORS))
def test_base_from_file_computes_keras_imagenet_model(tmp_path, monkeypatch, architecture):
    """Built from a weights file, and rebuilt without weights and loaded from the saved
    model (evaluation), each pretrained base computes what keras.applications' own
    weights="imagenet" graph computes with that file, to float32 rounding (relative
    error below 1e-5). Only EfficientNet's graph depends on weights="imagenet"."""
    from keras.src.utils import file_utils

    size, path = 32, tmp_path / "standin_notop.h5"
    write_standin_with_imagenet_stats(path, architecture, size)
    # Keras' "imagenet" branch, offline: its download returns the stand-in file.
    monkeypatch.setattr(file_utils, "get_file", lambda *args, **kwargs: str(path))
    constructor = getattr(keras.applications, KERAS_CONSTRUCTORS[architecture])
    shape = (size, size, 3)
    imagenet = constructor(include_top=False, weights="imagenet", input_shape=shape)
    x = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype(np.float32)
    expected = imagenet(x, training=False)
    spec = keras_models.get_spec(architecture)
    if spec.imagenet_stem:  # the bug this fixes: Keras' graph from a file differs
        plain = constructor(include_top=False, weights=str(path), input_shape=shape)
        assert relative_error(plain(x, training=False), expected) > 0.1
    base = keras_models.build_base(spec, size, str(path))
    assert relative_error(base(x, training=False), expected) < 1e-5
    if not spec.imagenet_stem:
        return  # nothing is changed on loading: the saved weights are the file's
    config = {**CONFIG, "pretrained": True, "augmentation": {"crop_padding": 0, "flip": False}}
    model, _ = keras_models.get_model(architecture, config, weights_path=str(path))
    model.save_weights(tmp_path / "trained.weights.h5")
    rebuilt, rebuilt_base = keras_models.get_model(architecture, config)
    rebuilt.load_weights(tmp_path / "trained.weights.h5")
    assert relative_error(rebuilt_base(x, training=False), expected) < 1e-5
