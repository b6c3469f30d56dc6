"""Keras layers of the on-device batch pipeline: augmentation and preprocessing of the
uint8 32x32 images run inside the model, per batch, on the accelerator. Keras 3 ops only,
so any backend runs them; their configs are Keras 3's own, from the constructors' arguments.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable("cifar_compare")
class RandomCropFlip(keras.layers.Layer):
    """Per-image random crop after zero padding and random horizontal flip (keras.layers.
    RandomCrop draws one offset per batch). Outputs float32 0..255; at inference only the cast."""

    def __init__(self, padding=0, flip=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.padding, self.flip = padding, flip
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        # Crop and flip only move pixels: doing them before the cast to float32
        # moves a quarter of the bytes.
        if training and self.padding:
            images = self._crop(images)
        if training and self.flip:
            batch = ops.shape(images)[0]
            mirror = keras.random.uniform((batch, 1, 1, 1), seed=self.generator) < 0.5
            images = ops.where(mirror, ops.flip(images, axis=2), images)
        return ops.cast(images, "float32")

    def _crop(self, images):
        p = self.padding
        batch, height, width, channels = (ops.shape(images)[i] for i in range(4))
        padded = ops.pad(images, [[0, 0], [p, p], [p, p], [0, 0]])
        dy = keras.random.randint((batch, 1), 0, 2 * p + 1, seed=self.generator)
        dx = keras.random.randint((batch, 1), 0, 2 * p + 1, seed=self.generator)
        rows = dy + ops.arange(height)[None, :]  # (batch, height)
        cols = dx + ops.arange(width)[None, :]  # (batch, width)
        row_index = ops.broadcast_to(
            rows[:, :, None, None], (batch, height, width + 2 * p, channels)
        )
        picked_rows = ops.take_along_axis(padded, row_index, axis=1)
        col_index = ops.broadcast_to(cols[:, None, :, None], (batch, height, width, channels))
        return ops.take_along_axis(picked_rows, col_index, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable("cifar_compare")
class Standardize(keras.layers.Layer):
    """(x / 255 - mean) / std per channel, with no weights of its own."""

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.std = list(mean), list(std)

    def call(self, images):
        mean = ops.convert_to_tensor(self.mean, dtype=images.dtype)
        std = ops.convert_to_tensor(self.std, dtype=images.dtype)
        return (images / 255.0 - mean) / std


@keras.saving.register_keras_serializable("cifar_compare")
class ApplicationPreprocess(keras.layers.Layer):
    """A keras.applications model's own preprocess_input, applied to 0..255 floats."""

    def __init__(self, application, **kwargs):
        super().__init__(**kwargs)
        self.application = application

    def call(self, images):
        return getattr(keras.applications, self.application).preprocess_input(images)


@keras.saving.register_keras_serializable("cifar_compare")
class LocalResponseNorm(keras.layers.Layer):
    """torch.nn.LocalResponseNorm across channels (channels last): each activation
    divided by (k + alpha * mean of the squares in a window of `size` channels)**beta,
    the window zero-padded size // 2 channels before and (size - 1) // 2 after."""

    def __init__(self, size, alpha, beta, k, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        channels = x.shape[-1]
        before, after = self.size // 2, (self.size - 1) // 2
        squares = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [before, after]])
        window = sum(squares[..., i : i + channels] for i in range(self.size))
        return x / ops.power(self.k + self.alpha / self.size * window, self.beta)

    def get_config(self):
        settings = {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}
        return {**super().get_config(), **settings}

    def compute_output_shape(self, input_shape):
        return input_shape
