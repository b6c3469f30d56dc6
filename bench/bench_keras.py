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
    .venv/bin/python bench/bench_keras.py --fine-tune --models mobilenetv2_pretrained_keras

--fine-tune times a pretrained model's last phase (the top of the base unfrozen,
`fine_tune` in the config) instead of phase 1.

Writes bench/out/keras.json and bench/out/keras.csv and prints the tables.
"""

import time

from harness import (
    MATMUL_PRODUCTS,
    best_of_alternating,
    first_step_seconds,
    load_images,
    main,
    matmul_flops_per_second,
    matmul_size,
    step_stretch,
    timed_steps,
)
from naive_keras import measure_naive


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


def network_after_preprocessing(model):
    """The model from its preprocessing layer's output on: what pre-staged tensors feed."""
    import keras

    names = {layer.name for layer in model.layers}
    name = "standardize" if "standardize" in names else "preprocess"
    return keras.Model(model.get_layer(name).output, model.output), model.get_layer(name)


def staged_step(model, base, phase, config, images, targets):
    """A training step of the network alone on two model-ready batches made beforehand
    and held as backend tensors."""
    import keras
    from cifar_compare.keras.train import compile_phase

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
    return lambda i: network.train_on_batch(*ready[i % 2])


def matmul_step(keras, dtype, size):
    """A step of MATMUL_PRODUCTS products of two size x size `dtype` matrices on the
    Keras backend."""
    a, b = (keras.random.normal((size, size), dtype=dtype) for _ in range(2))

    def step(_i):
        for _ in range(MATMUL_PRODUCTS):
            product = keras.ops.matmul(a, b)
        # Waits for the products to finish (a float32 copy: TF hands numpy no bf16 scalar).
        keras.ops.convert_to_numpy(keras.ops.cast(product[0, 0], "float32"))

    return step


def matmul_references(keras, precision, on_gpu):
    """The matmul steps timed beside a model: at its precision and in fp32; and their size."""
    size = matmul_size(on_gpu)
    dtypes = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
    steps = {"matmul": matmul_step(keras, dtypes[precision], size)}
    if precision != "fp32":
        steps["matmul_fp32"] = matmul_step(keras, "float32", size)
    return steps, size


def alternate_with_references(fit, staged, matmuls, args):
    """Best seconds of pipeline fits, pre-staged steps and the matmul references,
    timed in alternation after their warm-ups."""
    first_step_seconds(staged, args.warmup)
    for matmul in matmuls.values():
        first_step_seconds(matmul, 1)
    stretches = {
        "pipeline": fit,
        "staged": step_stretch(staged, args.warmup, args.steps),
        **{name: step_stretch(matmul, 1, 1) for name, matmul in matmuls.items()},
    }
    return best_of_alternating(stretches, args.repeats)


def child_setup(model_config, args):
    """Backend, device settings, seed, data and the pipeline's model for one child:
    (device name, images, labels, model, base)."""
    from cifar_compare.keras.runtime import configure, select_backend

    select_backend(args.backend or model_config["backend"])
    import keras
    from cifar_compare.keras.models import get_model

    precision = model_config.get("precision", "auto")
    device = configure(args.threads, model_config["deterministic"], precision)
    keras.utils.set_random_seed(0)
    images, labels = load_images(args)
    model, base = get_model(model_config["architecture"], model_config, seed=0)
    return device, images, labels, model, base


def phase_name(phase, base):
    """What a phase trains: the whole model, the head alone, or head and top of the base."""
    if base is None:
        return "whole model"
    return "head, base frozen" if phase.trainable_top is None else "fine-tune, base unfrozen"


def measure_pipeline(model_config, args):
    """The pipeline's own training and evaluation of one model; its measurements."""
    device, images, labels, model, base = child_setup(model_config, args)
    import keras
    import numpy as np
    from cifar_compare.keras.runtime import compute_precision, peak_device_memory_mb
    from cifar_compare.keras.train import compile_phase, plan_phases
    from cifar_compare.runtime.resources import cpu_name, peak_rss_mb
    from keras_flops import train_flops_per_image

    phases = plan_phases(model_config, base is not None)
    if args.fine_tune and len(phases) < 2:
        raise SystemExit("--fine-tune: this model has no fine_tune phase")
    phase = phases[-1 if args.fine_tune else 0]
    compile_phase(model, base, phase, model_config)
    batch = model_config["batch_size"]
    order = np.random.default_rng(0).permutation(len(labels))[: batch * (args.warmup + args.steps)]
    onehot = keras.utils.to_categorical(labels, 10)
    fit = fit_stretch(model, images[order], onehot[order], batch, args)
    fit(0)  # the warm-up, and the time to the first step
    size = args.eval_batch_size or batch
    _, eval_seconds = timed_steps(
        lambda i: model.predict_on_batch(images[(i * size) % len(images) :][:size]),
        1,
        args.steps,
        repeats=args.repeats,
    )
    peak_rss, peak_device = peak_rss_mb(), peak_device_memory_mb()  # what a training job sees
    precision = compute_precision()
    staged = staged_step(model, base, phase, model_config, images, onehot)
    matmuls, matmul_size_used = matmul_references(keras, precision, device != cpu_name())
    best = alternate_with_references(fit, staged, matmuls, args)
    return {
        "train_flops_per_image": train_flops_per_image(model),
        "compute_precision": precision,
        "device": device,
        "backend": keras.backend.backend(),
        "train_images_loaded": len(labels),
        "batch_size": batch,
        "input_size": model_config["input_size"],
        "phase": phase_name(phase, base),
        "trainable_parameters": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        "first_step_seconds": fit.first_step,
        "train_images_per_second": args.steps * batch / best["pipeline"],
        "staged_images_per_second": args.steps * batch / best["staged"],
        "interleaved_matmul_flops_per_second": matmul_flops_per_second(
            matmul_size_used, best["matmul"]
        ),
        "interleaved_fp32_matmul_flops_per_second": matmul_flops_per_second(
            matmul_size_used, best.get("matmul_fp32", best["matmul"])
        ),
        "eval_images_per_second": args.steps * size / eval_seconds,
        "peak_rss_mb": peak_rss,
        "peak_device_memory_mb": peak_device,
    }


if __name__ == "__main__":
    main(__doc__, __file__, "keras", {"pipeline": measure_pipeline, "naive": measure_naive})
