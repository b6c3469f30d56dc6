"""Benchmark Keras training and evaluation per configured model.

Not a test: it measures this machine. Each model runs in its own process (with
its configured backend, or --backend) so its peak RSS is its own. The whole
training set (50,000 images by default) stays in host memory as uint8 at 32x32
and is fed to `model.fit` as the pipeline does; augmentation, resize and
preprocessing are layers of the model. Per model: training img/s, the same
network trained on pre-staged model-ready tensors (the data pipeline's overhead),
evaluation img/s, peak host and device memory, time to the first step, and
FLOPs per image counted from the layers (bench/keras_flops.py) as a share of
the same run's matmul FLOP/s. With --naive, the tutorial-style baseline
(bench/naive_keras.py) runs beside it.

    .venv/bin/python bench/bench_keras.py --naive --steps 3 --warmup 1
    .venv/bin/python bench/bench_keras.py --configfile config/extended.yaml --batch-size 64
    KERAS_BACKEND=jax python3 bench/bench_keras.py --backend jax     # as bench/gpu-check.sh

Writes bench/out/keras.json and bench/out/keras.csv and prints the tables.
"""

import time

from harness import load_images, main, timed_steps
from naive_keras import measure_naive


def fit_clock(keras):
    class BatchClock(keras.callbacks.Callback):
        """Wall-clock time at the start of fit and at the end of every batch."""

        def on_train_begin(self, logs=None):
            self.start, self.batch_ends = time.perf_counter(), []

        def on_train_batch_end(self, batch, logs=None):
            self.batch_ends.append(time.perf_counter())

    return BatchClock()


def time_fit(model, images, targets, batch_size, args, shuffle=False):
    """(first step seconds, best time of `args.steps` steps) over `args.repeats` calls of
    model.fit, each running `args.warmup` untimed steps first."""
    import keras

    first, best = None, float("inf")
    for _ in range(args.repeats):
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
        first = first or clock.batch_ends[0] - clock.start
        best = min(best, finished - clock.batch_ends[args.warmup - 1])
    return first, best


def network_after_preprocessing(model):
    """The model from its preprocessing layer's output on: what pre-staged tensors feed."""
    import keras

    names = {layer.name for layer in model.layers}
    name = "standardize" if "standardize" in names else "preprocess"
    return keras.Model(model.get_layer(name).output, model.output), model.get_layer(name)


def time_staged(model, base, phase, config, images, targets, args):
    """Training on two model-ready batches made beforehand and held as backend tensors."""
    import keras
    from cifar_compare.keras_train import compile_phase

    network, last_preprocessing = network_after_preprocessing(model)
    compile_phase(network, base, phase, config)
    prepare = keras.Model(model.input, last_preprocessing.output)
    batch = config["batch_size"]
    ready = [
        (
            keras.ops.convert_to_tensor(
                prepare(images[i * batch : (i + 1) * batch], training=True)
            ),
            keras.ops.convert_to_tensor(targets[i * batch : (i + 1) * batch]),
        )
        for i in range(2)
    ]
    return timed_steps(
        lambda i: network.train_on_batch(*ready[i % 2]),
        args.warmup,
        args.steps,
        repeats=args.repeats,
    )


def measure_pipeline(model_config, args):
    """The pipeline's own training and evaluation of one model; its measurements."""
    from cifar_compare.keras_runtime import configure, peak_device_memory_mb, select_backend

    select_backend(args.backend or model_config["backend"])
    import keras
    import numpy as np
    from cifar_compare.keras_models import get_model
    from cifar_compare.keras_train import compile_phase, plan_phases
    from cifar_compare.resources import peak_rss_mb
    from keras_flops import train_flops_per_image

    device = configure(args.threads, model_config["deterministic"])
    keras.utils.set_random_seed(0)
    images, labels = load_images(args)
    model, base = get_model(model_config["architecture"], model_config, seed=0)
    phase = plan_phases(model_config, base is not None)[0]
    compile_phase(model, base, phase, model_config)
    batch = model_config["batch_size"]
    order = np.random.default_rng(0).permutation(len(labels))[: batch * (args.warmup + args.steps)]
    onehot = keras.utils.to_categorical(labels, 10)
    first_step, seconds = time_fit(model, images[order], onehot[order], batch, args)
    size = args.eval_batch_size or batch
    _, eval_seconds = timed_steps(
        lambda i: model.predict_on_batch(images[(i * size) % len(images) :][:size]),
        1,
        args.steps,
        repeats=args.repeats,
    )
    peak_rss, peak_device = peak_rss_mb(), peak_device_memory_mb()  # what a training job sees
    _, staged_seconds = time_staged(model, base, phase, model_config, images, onehot, args)
    return {
        "train_flops_per_image": train_flops_per_image(model),
        "compute_precision": "bf16"
        if "bfloat16" in keras.mixed_precision.global_policy().name
        else "fp32",
        "device": device,
        "backend": keras.backend.backend(),
        "train_images_loaded": len(labels),
        "batch_size": batch,
        "input_size": model_config["input_size"],
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * batch / seconds,
        "staged_images_per_second": args.steps * batch / staged_seconds,
        "eval_images_per_second": args.steps * size / eval_seconds,
        "peak_rss_mb": peak_rss,
        "peak_device_memory_mb": peak_device,
    }


if __name__ == "__main__":
    main(__doc__, __file__, "keras", {"pipeline": measure_pipeline, "naive": measure_naive})
