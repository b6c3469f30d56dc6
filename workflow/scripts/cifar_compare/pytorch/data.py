"""On-device batch pipeline: the data set stays uint8 at 32x32 on the training device;
augmentation, normalisation and the resize run per batch, so memory does not grow with
the input size."""

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from cifar_compare.epochs import steps_per_epoch


def to_device(array, device):
    """A numpy array (any strides, e.g. a mirrored view) as a tensor on `device`."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def shuffled_batches(count, batch_size, generator):
    """Index tensors of a random order, on the generator's device; the last partial
    batch is dropped (cifar_compare.epochs.steps_per_epoch)."""
    order = torch.randperm(count, generator=generator, device=generator.device)
    for step in range(steps_per_epoch(count, batch_size)):
        yield order[step * batch_size : (step + 1) * batch_size]


def random_crop_flip(images, padding, flip, generator):
    """Per-image random crop after zero padding, and random horizontal flip (uint8 NHWC)."""
    n, height, width, _ = images.shape
    device = images.device
    if padding:
        padded = F.pad(images, (0, 0, padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
        dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
        rows = (dy + torch.arange(height, device=device))[:, :, None]
        cols = (dx + torch.arange(width, device=device))[:, None, :]
        images = padded[torch.arange(n, device=device)[:, None, None], rows, cols]
    if flip:
        mirror = torch.rand(n, generator=generator, device=device) < 0.5
        images = torch.where(mirror[:, None, None, None], images.flip(2), images)
    return images


@lru_cache(maxsize=16)
def channel_constants(values, device):
    """Per-channel constants as a (1, 3, 1, 1) tensor on `device`, made once: building
    them every batch would be a host-to-device copy per step."""
    return torch.tensor(values, device=device).view(1, 3, 1, 1)


def to_model_input(images, mean, std, input_size):
    """uint8 NHWC -> normalised float NCHW (channels-last memory) at `input_size`."""
    x = images.permute(0, 3, 1, 2).float().div_(255)
    x = (x - channel_constants(mean, x.device)) / channel_constants(std, x.device)
    if x.shape[-1] != input_size or x.shape[-2] != input_size:
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    return x.contiguous(memory_format=torch.channels_last)
