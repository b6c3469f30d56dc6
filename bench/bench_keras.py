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

import harness
from keras_fit import child_setup, fit_stretch, network_after_preprocessing
from naive_keras import measure_naive


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
        for _ in range(harness.MATMUL_PRODUCTS):
            product = keras.ops.matmul(a, b)
        # Waits for the products to finish (a float32 copy: TF hands numpy no bf16 scalar).
        keras.ops.convert_to_numpy(keras.ops.cast(product[0, 0], "float32"))

    return step


def matmul_references(keras, precision, on_gpu):
    """The matmul steps timed beside a model: at its precision and in fp32; and their size."""
    size = harness.matmul_size(on_gpu)
    dtypes = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
    steps = {"matmul": matmul_step(keras, dtypes[precision], size)}
    if precision != "fp32":
        steps["matmul_fp32"] = matmul_step(keras, "float32", size)
    return steps, size


def phase_name(phase, base):
    """What a phase trains: the whole model, the head alone, or head and top of the base."""
    if base is None:
        return "whole model"
    return "head, base frozen" if phase.trainable_top is None else "fine-tune, base unfrozen"


def measure_pipeline(model_config, args):
    """The pipeline's own training and evaluation of one model; its measurements."""
    device, images, labels, model, adapter = child_setup(model_config, args)
    base = adapter.base
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
    _, eval_seconds = harness.timed_steps(
        lambda i: model.predict_on_batch(images[(i * size) % len(images) :][:size]),
        1,
        args.steps,
        repeats=args.repeats,
    )
    peak_rss, peak_device = peak_rss_mb(), peak_device_memory_mb()  # what a training job sees
    precision = compute_precision()
    staged = staged_step(model, base, phase, model_config, images, onehot)
    matmuls, matmul_size_used = matmul_references(keras, precision, device != cpu_name())
    best = harness.alternate_with_references(fit, staged, matmuls, args)
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
        **harness.interleaved_matmul_flops(matmul_size_used, best),
        "eval_images_per_second": args.steps * size / eval_seconds,
        "peak_rss_mb": peak_rss,
        "peak_device_memory_mb": peak_device,
        **harness.auto_precision(adapter),
    }


if __name__ == "__main__":
    harness.main(__doc__, __file__, "keras", {"pipeline": measure_pipeline, "naive": measure_naive})
