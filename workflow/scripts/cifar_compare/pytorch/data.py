"""On-device batch pipeline: the data set stays uint8 at 32x32 on the training device.

Augmentation, normalisation and the resize to the model's input size run per
batch, so memory does not grow with the input size.
"""

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F


def to_device(array, device):
    """A numpy array (any strides, e.g. a mirrored view) as a tensor on `device`."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def batch_indices(count, batch_size, generator=None, drop_last=False, device=None):
    """Yield index tensors on the generator's device (or `device`); shuffled when a
    generator is given."""
    if generator is None:
        order = torch.arange(count, device=device or "cpu")
    else:
        order = torch.randperm(count, generator=generator, device=generator.device)
    stop = count - count % batch_size if drop_last and count >= batch_size else count
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


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
