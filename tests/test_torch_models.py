"""PyTorch registry, architectures and the on-device batch pipeline."""

import numpy as np
import pytest
import torch
from cifar_compare.pytorch.data import random_crop_flip, to_model_input
from cifar_compare.pytorch.models import (
    count_parameters,
    freeze_all_but,
    get_model,
    get_spec,
)
from cifar_compare.recipe import lr_factor
from torch import nn


def layer_counts(model):
    kinds = (nn.Conv2d, nn.MaxPool2d, nn.Linear, nn.Dropout)  # Float32Linear is a Linear
    return {k.__name__: sum(isinstance(m, k) for m in model.modules()) for k in kinds}


def test_alexnet_cifar_is_5_conv_3_pool_3_dense():
    model = get_model("alexnet_cifar")
    counts = layer_counts(model)
    assert (counts["Conv2d"], counts["MaxPool2d"], counts["Linear"]) == (5, 3, 3)
    assert counts["Dropout"] >= 1
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_pretrained_alexnet_loads_weights_then_gets_new_head():
    from torchvision.models import alexnet

    reference = alexnet(weights=None).state_dict()
    model = get_model("alexnet", 10, reference)
    assert torch.equal(model.features[0].weight, reference["features.0.weight"])
    assert model.classifier[6].out_features == 10
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


def test_freeze_all_but_head():
    model = get_model("alexnet")
    freeze_all_but(model, get_spec("alexnet").head)
    counts = count_parameters(model)
    assert counts["trainable"] == 4096 * 10 + 10 < counts["total"]


def test_unknown_architecture_names_the_registry():
    with pytest.raises(KeyError, match="unknown PyTorch architecture 'vgg99'; known: alexnet"):
        get_model("vgg99")


def test_crops_are_per_image_and_flips_mirror():
    generator = torch.Generator().manual_seed(0)
    images = torch.arange(32, dtype=torch.uint8).view(1, 1, 32, 1).expand(64, 32, 32, 3)
    cropped = random_crop_flip(images.contiguous(), 4, False, generator)
    first_rows = cropped[:, :, 0, 0].float()
    assert cropped.shape == images.shape and cropped.dtype == torch.uint8
    assert len({tuple(r.tolist()) for r in first_rows}) > 1  # offsets differ between images
    flipped = random_crop_flip(images.contiguous(), 0, True, generator)
    mirrored = (flipped != images).any(dim=(1, 2, 3))
    assert 0 < mirrored.sum() < 64
    assert torch.equal(flipped[mirrored], images[mirrored].flip(2))


def bilinear_double(plane):
    """Reference 2x bilinear upsampling of one 2-D array with half-pixel centres, edge
    clamped (what image libraries call bilinear without antialiasing), written out."""
    size = plane.shape[0]
    source = np.clip((np.arange(2 * size) + 0.5) / 2 - 0.5, 0, size - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size - 1)
    weight = source - low
    rows = plane[low] * (1 - weight)[:, None] + plane[high] * weight[:, None]
    return rows[:, low] * (1 - weight)[None, :] + rows[:, high] * weight[None, :]


def test_model_input_is_resized_and_normalised_per_batch():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    images[..., 1] //= 2  # channels with different ranges, so a channel mix-up shows
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.3, 0.4)
    x = to_model_input(torch.from_numpy(images), mean, std, 64)
    assert x.shape == (2, 3, 64, 64) and x.dtype == torch.float32
    for n in range(2):
        for c in range(3):
            normalised = (images[n, :, :, c] / 255.0 - mean[c]) / std[c]
            expected = bilinear_double(normalised)
            assert np.allclose(x[n, c].numpy(), expected, atol=1e-5), (n, c)


@pytest.mark.parametrize("name", ["onecycle", "cosine"])
def test_schedules_warm_up_then_decay(name):
    schedule = {"name": name, "warmup_fraction": 0.2, "final_factor": 0.0}
    factors = [lr_factor(step, 100, schedule) for step in range(100)]
    assert factors[0] < factors[19] == pytest.approx(1.0)
    assert factors[99] < 0.05 and max(factors) <= 1.0
    assert lr_factor(5, 100, {"name": "constant"}) == 1.0


def test_parameter_groups_give_the_head_its_factor_and_vectors_no_decay():
    from cifar_compare.pytorch.train import parameter_groups

    model = get_model("alexnet")
    head = get_spec("alexnet").head
    groups = parameter_groups(model, 5e-4, 0.01, head, head_lr_factor=10)
    names = {id(p): name for name, p in model.named_parameters()}
    placed = [(names[id(p)], g["lr"], g["weight_decay"]) for g in groups for p in g["params"]]
    assert sorted(name for name, _, _ in placed) == sorted(names.values())  # each once
    for name, lr, decay in placed:
        assert lr == pytest.approx(0.1 if name.startswith(head + ".") else 0.01)
        assert decay == (0.0 if name.endswith("bias") else 5e-4)
    freeze_all_but(model, head)
    frozen = parameter_groups(model, 5e-4, 0.01, head, head_lr_factor=10)
    assert [(len(g["params"]), g["lr"]) for g in frozen] == [(1, 0.1), (1, 0.1)]
