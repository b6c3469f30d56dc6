"""The exponential moving average of a model's weights (the config's `ema_decay`), kept
beside the trained weights and swapped in for validation and for the final checkpoint."""

import contextlib

import torch


class WeightAverage:
    """EMA of every floating-point entry of the model's state: parameters and BatchNorm
    running statistics, so the averaged weights are normalised by averaged statistics
    (as timm's ModelEma). It starts from the weights it is given, and each update()
    after an optimisation step moves it a fraction 1 - decay towards the model's weights:
    the same rule as cifar_compare.keras.averaging.WeightAverage."""

    def __init__(self, model, decay):
        self.decay = decay
        self.average = {
            name: tensor.detach().clone()
            for name, tensor in model.state_dict().items()
            if tensor.is_floating_point()
        }

    @torch.no_grad()
    def update(self, model):
        state = model.state_dict()
        for name, average in self.average.items():
            average.lerp_(state[name], 1 - self.decay)

    def state_dict(self):
        return dict(self.average)

    def load_state_dict(self, state):
        for name, average in self.average.items():
            average.copy_(state[name])

    def copy_to(self, model):
        """Put the averaged weights into `model` for good (the end of training)."""
        model.load_state_dict(self.average, strict=False)

    @contextlib.contextmanager
    def swapped_into(self, model):
        """`model` holds the averaged weights inside the block, its own again after it."""
        trained = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        self.copy_to(model)
        try:
            yield model
        finally:
            model.load_state_dict(trained)
