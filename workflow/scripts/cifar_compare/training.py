"""The train rule of either framework (cifar_compare.adapter.Framework): resume,
signals, divergence, the history, the training summary and the checkpoint record."""

from cifar_compare.adapter import Framework
from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.data.dataset import load_prepared
from cifar_compare.epochs import fit, write_history
from cifar_compare.fileio import read_json
from cifar_compare.recipe import batch_norm_mode
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.interruption import ResumeDir, StopRequest, early_ends, fingerprint
from cifar_compare.runtime.logs import errors_logged, open_log
from cifar_compare.runtime.precision import precision_text
from cifar_compare.runtime.resources import peak_rss_mb


def train(adapter, prepared_path, model_config, seed, weights_path, threads, log, resume, stop):
    """Train and return (model, history, summary)."""
    device = adapter.start(model_config, threads, model_config.get("precision", "auto"))
    splits, _ = load_prepared(prepared_path, ("train", "val"))
    model = adapter.build(weights_path, seed)
    images, decision = len(splits["train"]), adapter.precision()
    what = f"{model_config['architecture']} with {adapter.library()} on {device}"
    log.info("training %s in %s, %d images", what, precision_text(decision), images)
    trainer = adapter.trainer(model, splits["train"], splits["val"])
    history = fit(trainer, model_config, seed, log.info, resume, stop)
    summary = {
        "wall_seconds": sum(row["epoch_seconds"] for row in history),
        "images_per_second": sum(r["images_per_second"] for r in history) / len(history),
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": adapter.peak_device_memory_mb(),
        "device": device,
        **decision.record(),
        "batch_norm": batch_norm_mode(model_config),
        "train_images": images,
        "validation_accuracy": validation_accuracy(history),
        "environment": adapter.environment(),
    }
    return model, history, summary


def validation_accuracy(history):
    """Validation accuracy per epoch, what recipe choices are made on; None without a
    validation split (data.validation_fraction: 0, the final runs)."""
    found = [row["val_accuracy"] for row in history]
    return None if found[0] is None else found


def train_job(snakemake, adapter: Framework):
    """One model and seed: the rule's paths and settings in; the checkpoint with its
    record and the per-epoch history out. A stopped attempt's epochs are resumed."""
    log = open_log(snakemake.log[0])
    stop = StopRequest().install()
    seed, model_name = int(snakemake.wildcards.seed), snakemake.wildcards.model
    with gpu_slot(log), errors_logged(log), early_ends(log, model_name, seed):
        config, prepared = snakemake.params.model_config, snakemake.input.prepared
        weights = snakemake.input.get("weights")
        provenance = read_json(snakemake.input.provenance) if weights else None
        identity = fingerprint(config, seed, prepared, weights)
        resume = ResumeDir(snakemake.params.resume_dir, identity)
        model, history, summary = train(
            adapter, prepared, config, seed, weights, snakemake.threads, log, resume, stop
        )
        write_history(snakemake.output.history, history)
        record = {
            "model_name": model_name,
            "architecture": config["architecture"],
            "num_classes": NUM_CLASSES,
            "seed": seed,
            "model_config": config,
            "weights": provenance,
            "train_summary": summary,
            "versions": adapter.versions(),
        }
        adapter.save(model, record, snakemake.output)
        resume.clear()
