"""Train one PyTorch model for one seed; write its checkpoint and per-epoch history."""

import os

import torch
from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.data.dataset import load_prepared
from cifar_compare.fileio import read_json
from cifar_compare.history import write_history
from cifar_compare.pytorch.checkpoint import device_from_env, device_name, save_checkpoint
from cifar_compare.pytorch.data import to_device
from cifar_compare.pytorch.models import freeze_all_but, get_model, get_spec
from cifar_compare.pytorch.train import Recipe, fit, seed_everything
from cifar_compare.runtime.environment import torch_environment
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.interruption import ResumeDir, StopRequest, diverged_names, fingerprint
from cifar_compare.runtime.logs import errors_logged, exit_on_interrupt, open_log
from cifar_compare.runtime.resources import library_versions, peak_rss_mb


def build_model(model_config, weights_path, device):
    state_dict = None
    if weights_path:
        state_dict = torch.load(weights_path, map_location="cpu", weights_only=True)
    model = get_model(
        model_config["architecture"], NUM_CLASSES, state_dict, model_config.get("dropout")
    )
    if model_config["freeze_base"]:
        freeze_all_but(model, get_spec(model_config["architecture"]).head)
    return model.to(device, memory_format=torch.channels_last)


def is_deterministic(model_config, device):
    """The config's choice; by default on for CPU runs (see README: Determinism)."""
    choice = model_config["deterministic"]
    return device.type == "cpu" if choice is None else choice


def train(prepared_path, model_config, seed, weights_path, device, log, resume=None, stop=None):
    """Train and return (model, history, summary)."""
    if device.type == "cuda":
        # cuBLAS needs this to be deterministic; harmless otherwise.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    seed_everything(seed, is_deterministic(model_config, device))
    splits, _ = load_prepared(prepared_path, ("train", "val"))
    spec = get_spec(model_config["architecture"])
    recipe = Recipe.from_config(model_config, spec).with_precision(device)
    model = build_model(model_config, weights_path, device)
    train_data, val_data = to_device(splits["train"], device), to_device(splits["val"], device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    log.info(
        "training %s on %s in %s, %d images",
        model_config["architecture"],
        device,
        recipe.precision,
        len(splits["train"]),
    )
    history = fit(model, train_data, val_data, recipe, seed, log.info, resume, stop)
    summary = {
        "wall_seconds": sum(row["epoch_seconds"] for row in history),
        "images_per_second": sum(r["images_per_second"] for r in history) / len(history),
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": (
            torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        ),
        "device": device_name(device),
        "precision": recipe.precision,
        "batch_norm": recipe.batch_norm,
        "train_images": len(splits["train"]),
        "environment": torch_environment(device),
    }
    return model, history, summary


if __name__ == "__main__":
    import torchvision

    logger = open_log(snakemake.log[0])
    stop = StopRequest().install()
    with gpu_slot(snakemake.log[0]), errors_logged(logger), exit_on_interrupt(logger):
        torch.set_num_threads(snakemake.threads)
        config = snakemake.params.model_config
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
                device_from_env(),
                logger,
                resume,
                stop,
            )
        write_history(snakemake.output.history, history)
        save_checkpoint(
            snakemake.output.checkpoint,
            model,
            model_name=snakemake.wildcards.model,
            architecture=config["architecture"],
            num_classes=NUM_CLASSES,
            seed=seed,
            model_config=config,
            weights=provenance,
            train_summary=summary,
            versions=library_versions(torch, torchvision),
        )
        resume.clear()
