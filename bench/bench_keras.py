"""Benchmark Keras training: images/s and peak memory per configured model.

Not a test: it measures this machine. Each model runs in its own process (with
its configured backend) so its peak RSS is its own. The whole training set
(50,000 images by default) stays in host memory as uint8 at 32x32; batches go
through the model's own augmentation, resize and preprocessing layers, as in
the pipeline.

    .venv/bin/python bench/bench_keras.py --steps 3 --warmup 1
    .venv/bin/python bench/bench_keras.py --configfile config/extended.yaml --batch-size 64

Writes bench/out/keras.json and bench/out/keras.csv and prints a table.
"""

from harness import load_images, main, timed_steps


def measure_one(model_config, args):
    """Run warm-up and timed train steps of one model; return its measurements."""
    from cifar_compare.keras_runtime import configure, peak_device_memory_mb, select_backend

    select_backend(model_config["backend"])
    import keras
    import numpy as np
    from cifar_compare.keras_models import get_model
    from cifar_compare.keras_train import build_optimizer
    from cifar_compare.resources import peak_rss_mb

    device = configure(args.threads)
    keras.utils.set_random_seed(0)
    images, labels = load_images(args)
    model, base = get_model(model_config["architecture"], model_config, seed=0)
    if base is not None and model_config["freeze_base"]:
        base.trainable = False
    model.compile(
        optimizer=build_optimizer(model_config["optimizer"], model_config["optimizer"]["lr"]),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    batch = model_config["batch_size"]
    order = np.random.default_rng(0).permutation(len(labels))
    onehot = keras.utils.to_categorical(labels, 10)

    def step(i):
        index = order[(i * batch) % len(labels) :][:batch]
        model.train_on_batch(images[index], onehot[index])

    first_step, seconds = timed_steps(step, args.warmup, args.steps)
    return {
        "device": device,
        "backend": keras.backend.backend(),
        "train_images_loaded": len(labels),
        "batch_size": batch,
        "input_size": model_config["input_size"],
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * batch / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": peak_device_memory_mb(),
    }


if __name__ == "__main__":
    main(__doc__, __file__, "keras", measure_one)
