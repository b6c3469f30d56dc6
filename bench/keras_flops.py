"""Training FLOPs per image of a Keras model, counted layer by layer from the model.

Counts the multiply-adds of convolutions, depthwise convolutions and dense
layers (as torch.utils.flop_counter does on the PyTorch side, which ignores
element-wise work), 2 FLOPs each: the forward pass, the weight gradient of
every layer with trainable weights, and the input gradient of every layer that
has a trainable layer before it. A frozen base therefore costs one forward pass.
"""

import math

from keras import layers


def flattened_layers(model):
    """Every leaf layer in the model's (topological) order, nested models expanded."""
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from flattened_layers(layer)
        else:
            yield layer


def forward_macs(layer):
    """Multiply-adds of one image through `layer` (0 for layers without matmul work)."""
    if not isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
        return 0
    positions = math.prod(layer.output.shape[1:-1])
    in_channels = layer.input.shape[-1]
    if isinstance(layer, layers.Dense):
        return positions * in_channels * layer.units
    window = math.prod(layer.kernel_size)
    if isinstance(layer, layers.DepthwiseConv2D):
        return positions * window * in_channels * layer.depth_multiplier
    return positions * window * in_channels // layer.groups * layer.filters


def train_flops_per_image(model):
    total, trainable_upstream = 0, False
    for layer in flattened_layers(model):
        forward = 2 * forward_macs(layer)
        has_trainable = bool(layer.trainable_weights)
        total += forward * (1 + has_trainable + trainable_upstream)
        trainable_upstream = trainable_upstream or has_trainable
    return total
