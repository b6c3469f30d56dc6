"""The usual tutorial approach to Keras fine-tuning, as the baseline to beat.

The whole training array is resized to the model's input size up front (as
float32), preprocessed as one array, and handed to `model.fit`. At 224x224 that
is 50,000 x 224 x 224 x 3 x 4 bytes = 30 GB before any copy, which is what ran
the original study out of memory. So that it cannot exhaust the machine, only
as many images as fit in --naive-cap-mb are resized; the peak host RSS for the
full set is then projected from the measured memory per resized image.
"""

from harness import timed_steps
from keras_fit import child_setup, network_after_preprocessing, time_fit


def images_to_resize(total, input_size, batch_size, steps, cap_mb):
    """How many images the capped baseline resizes: enough for its steps, within the cap."""
    image_bytes = input_size * input_size * 3 * 4
    return min(total, max(batch_size * steps, cap_mb * 2**20 // image_bytes))


def current_rss_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure_naive(model_config, args):
    """Tutorial-style training and evaluation of one model; its measurements."""
    device, images, labels, model, adapter = child_setup(model_config, args)
    base = adapter.base
    import keras
    import numpy as np
    from cifar_compare.keras.runtime import compute_precision, peak_device_memory_mb
    from cifar_compare.keras.train import compile_phase, plan_phases
    from cifar_compare.runtime.resources import peak_rss_mb

    network, preprocessing = network_after_preprocessing(model)
    compile_phase(network, base, plan_phases(model_config, base is not None)[0], model_config)
    size, batch = model_config["input_size"], model_config["batch_size"]
    steps = args.warmup + args.steps
    count = images_to_resize(len(labels), size, batch, steps, args.naive_cap_mb)

    rss_before = current_rss_mb()
    resized = np.asarray(keras.ops.image.resize(images[:count].astype("float32"), (size, size)))
    inputs = np.asarray(preprocessing(resized))
    del resized
    data_mb_per_image = max(0.0, peak_rss_mb() - rss_before) / count

    targets = keras.utils.to_categorical(labels[:count], 10)
    first_step, seconds = time_fit(network, inputs, targets, batch, args, shuffle=True)
    eval_size = args.eval_batch_size or batch
    _, eval_seconds = timed_steps(
        lambda i: network.predict_on_batch(inputs[(i * eval_size) % count :][:eval_size]),
        1,
        args.steps,
        repeats=args.repeats,
    )
    peak = peak_rss_mb()
    return {
        "device": device,
        "backend": keras.backend.backend(),
        "compute_precision": compute_precision(),  # the pipeline's, set by child_setup
        "train_images_loaded": len(labels),
        "naive_images_resized": count,
        "batch_size": batch,
        "input_size": size,
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * batch / seconds,
        "eval_images_per_second": args.steps * eval_size / eval_seconds,
        "peak_rss_mb": peak,
        "projected_peak_rss_mb": (
            peak + data_mb_per_image * (len(labels) - count) if count < len(labels) else None
        ),
        "peak_device_memory_mb": peak_device_memory_mb(),
    }
