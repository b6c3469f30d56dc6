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
