"""The Keras benchmark's shared parts (bench_keras.py and its naive baseline,
naive_keras.py): one child's setup, the network after preprocessing, and timed fits."""

import time

from harness import best_of_alternating, load_images


def child_setup(model_config, args):
    """A training job's backend (or --backend), device settings, seed and model, and the
    data, for one child: (device name, images, labels, model, adapter)."""
    from cifar_compare.keras.adapter import Keras

    adapter = Keras()
    config = {**model_config, "backend": args.backend or model_config["backend"]}
    device = adapter.start(config, args.threads, config.get("precision", "auto"))
    images, labels = load_images(args)
    model = adapter.build(None, 0)
    return device, images, labels, model, adapter


def network_after_preprocessing(model):
    """The model from its preprocessing layer's output on: what pre-staged tensors feed."""
    import keras

    names = {layer.name for layer in model.layers}
    name = "standardize" if "standardize" in names else "preprocess"
    return keras.Model(model.get_layer(name).output, model.output), model.get_layer(name)


def fit_clock(keras):
    class BatchClock(keras.callbacks.Callback):
        """Wall-clock time at the start of fit and at the end of every batch."""

        def on_train_begin(self, logs=None):
            self.start, self.batch_ends = time.perf_counter(), []

        def on_train_batch_end(self, batch, logs=None):
            self.batch_ends.append(time.perf_counter())

    return BatchClock()


def fit_stretch(model, images, targets, batch_size, args, shuffle=False):
    """A stretch (see harness.best_of_alternating) of one model.fit over `args.warmup`
    + `args.steps` batches, timing the steps after the warm-up; the first call's time
    to its first step is kept as `stretch.first_step`."""
    import keras

    def stretch(_round):
        clock = fit_clock(keras)
        model.fit(
            images,
            targets,
            batch_size=batch_size,
            epochs=1,
            shuffle=shuffle,
            verbose=0,
            steps_per_epoch=args.warmup + args.steps,
            callbacks=[clock],
        )
        finished = time.perf_counter()  # fit has returned: every step has run
        stretch.first_step = stretch.first_step or clock.batch_ends[0] - clock.start
        return finished - clock.batch_ends[args.warmup - 1]

    stretch.first_step = None
    return stretch


def time_fit(model, images, targets, batch_size, args, shuffle=False):
    """(first step seconds, best time of `args.steps` steps over `args.repeats` fits)."""
    stretch = fit_stretch(model, images, targets, batch_size, args, shuffle)
    best = best_of_alternating({"fit": stretch}, args.repeats)["fit"]
    return stretch.first_step, best
