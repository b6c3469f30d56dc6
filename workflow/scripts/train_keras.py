"""Train one Keras model for one seed; write its weights, record and per-epoch history.

The backend (tensorflow or torch) is chosen per model in the config, so
keras is imported only after select_backend().
"""

from cifar_compare.data.dataset import load_prepared
from cifar_compare.fileio import atomic_path, read_json, write_json_atomic
from cifar_compare.history import write_history
from cifar_compare.keras.environment import keras_environment
from cifar_compare.keras.runtime import (
    compute_precision,
    configure,
    peak_device_memory_mb,
    select_backend,
)
from cifar_compare.recipe import batch_norm_mode
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.interruption import ResumeDir, StopRequest, diverged_names, fingerprint
from cifar_compare.runtime.logs import errors_logged, exit_on_interrupt, open_log
from cifar_compare.runtime.resources import peak_rss_mb


def train(prepared_path, model_config, seed, weights_path, threads, log, resume=None, stop=None):
    """Train and return (model, history, summary)."""
    import keras
    from cifar_compare.keras.models import get_model
    from cifar_compare.keras.train import fit

    device = configure(threads, model_config["deterministic"], model_config["precision"])
    keras.utils.set_random_seed(seed)
    splits, class_names = load_prepared(prepared_path, ("train", "val"))
    model, base = get_model(
        model_config["architecture"], model_config, len(class_names), weights_path, seed
    )
    train_split, val_split = splits["train"], splits["val"]
    log.info(
        "training %s with Keras %s (%s backend) on %s in %s, %d images",
        model_config["architecture"],
        keras.__version__,
        keras.backend.backend(),
        device,
        compute_precision(),
        len(train_split),
    )
    history = fit(
        model,
        base,
        (train_split.images, train_split.labels),
        (val_split.images, val_split.labels),
        model_config,
        seed,
        log.info,
        resume,
        stop,
    )
    summary = {
        "wall_seconds": sum(row["epoch_seconds"] for row in history),
        "images_per_second": sum(r["images_per_second"] for r in history) / len(history),
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": peak_device_memory_mb(),
        "device": device,
        "precision": compute_precision(),
        "batch_norm": batch_norm_mode(model_config),
        "train_images": len(train_split),
        "environment": keras_environment(),
    }
    return model, history, summary


def keras_versions():
    import importlib

    import keras
    from cifar_compare.runtime.resources import library_versions

    backend = importlib.import_module(
        {"torch": "torch", "jax": "jax"}.get(keras.backend.backend(), "tensorflow")
    )
    return library_versions(keras, backend)


def save_weights(path, model):
    with atomic_path(path, suffix=".partial.weights.h5") as tmp:
        model.save_weights(tmp)


if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    stop = StopRequest().install()
    with gpu_slot(snakemake.log[0]), errors_logged(logger), exit_on_interrupt(logger):
        config = snakemake.params.model_config
        select_backend(config["backend"])
        seed = int(snakemake.wildcards.seed)
        weights = snakemake.input.get("weights")
        provenance = read_json(snakemake.input.provenance) if weights else None
        identity = fingerprint(config, seed, snakemake.input.prepared, weights)
        resume = ResumeDir(snakemake.params.resume_dir, identity)
        with diverged_names(snakemake.wildcards.model, seed):
            model, history, summary = train(
                snakemake.input.prepared,
                config,
                seed,
                weights,
                snakemake.threads,
                logger,
                resume,
                stop,
            )
        write_history(snakemake.output.history, history)
        save_weights(snakemake.output.checkpoint, model)
        write_json_atomic(
            snakemake.output.record,
            {
                "model_name": snakemake.wildcards.model,
                "architecture": config["architecture"],
                "num_classes": 10,
                "seed": seed,
                "model_config": config,
                "weights": provenance,
                "train_summary": summary,
                "versions": keras_versions(),
            },
        )
        resume.clear()
