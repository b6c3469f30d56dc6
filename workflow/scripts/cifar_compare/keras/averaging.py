"""The exponential moving average of a model's weights (the config's `ema_decay`), kept
beside the trained weights and swapped in for validation and for the final weights.
Keras' own optimizer EMA (`use_ema`) averages trainable weights only and overwrites the
model at the end of every fit() call, that is every epoch here, so it is not used."""

import contextlib

import keras

from cifar_compare.keras.runtime import compiled


class WeightAverage(keras.callbacks.Callback):
    """EMA of every weight of the model, trainable or not (BatchNorm moving statistics
    too), updated after every training step: the same rule as cifar_compare.pytorch.
    averaging.WeightAverage, which documents it."""

    def __init__(self, model, decay):
        super().__init__()
        self.decay = decay
        self.weights_ = list(model.weights)
        # From a copy: a Keras variable made from another's value aliases it.
        self.average = [
            keras.Variable(keras.ops.convert_to_numpy(w), trainable=False, name=f"ema_{i}")
            for i, w in enumerate(self.weights_)
        ]
        self._update = compiled(self._update_eagerly)

    def _update_eagerly(self):
        for weight, average in zip(self.weights_, self.average, strict=True):
            average.assign(average + (1 - self.decay) * (weight - average))

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def values(self):
        return [keras.ops.convert_to_numpy(a) for a in self.average]

    def load_values(self, values):
        for average, value in zip(self.average, values, strict=True):
            average.assign(value)

    def copy_to_model(self):
        """Put the averaged weights into the model for good (the end of training)."""
        for weight, average in zip(self.weights_, self.average, strict=True):
            weight.assign(average)

    @contextlib.contextmanager
    def swapped_in(self):
        """The model holds the averaged weights inside the block, its own again after it."""
        trained = [keras.ops.convert_to_numpy(w) for w in self.weights_]
        self.copy_to_model()
        try:
            yield
        finally:
            for weight, value in zip(self.weights_, trained, strict=True):
                weight.assign(value)
