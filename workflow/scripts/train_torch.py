"""Train one PyTorch model for one seed; write its checkpoint and per-epoch history."""

import csv
import time

import torch
from cifar_compare.cifar_archive import NUM_CLASSES
from cifar_compare.dataset import load_prepared
from cifar_compare.fileio import atomic_path, read_json
from cifar_compare.logs import errors_logged, open_log
from cifar_compare.resources import library_versions, peak_rss_mb
from cifar_compare.torch_checkpoint import device_from_env, device_name, save_checkpoint
from cifar_compare.torch_data import to_device
from cifar_compare.torch_models import freeze_all_but, get_model, get_spec
from cifar_compare.torch_train import Recipe, fit, seed_everything


def build_model(model_config, weights_path, device):
    state_dict = None
    if weights_path:
        state_dict = torch.load(weights_path, map_location="cpu", weights_only=True)
    model = get_model(model_config["architecture"], NUM_CLASSES, state_dict)
    if model_config["freeze_base"]:
        freeze_all_but(model, get_spec(model_config["architecture"]).head)
    return model.to(device, memory_format=torch.channels_last)


def train(prepared_path, model_config, seed, weights_path, device, log):
    """Train and return (model, history, summary)."""
    seed_everything(seed)
    splits, class_names = load_prepared(prepared_path, ("train", "val"))
    spec = get_spec(model_config["architecture"])
    recipe = Recipe.from_config(model_config, spec)
    model = build_model(model_config, weights_path, device)
    train_data, val_data = to_device(splits["train"], device), to_device(splits["val"], device)
    generator = torch.Generator(device=device).manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    log.info(
        "training %s on %s, %d images", model_config["architecture"], device, len(splits["train"])
    )
    start = time.perf_counter()
    history = fit(model, train_data, val_data, recipe, generator, log.info)
    wall = time.perf_counter() - start
    summary = {
        "wall_seconds": wall,
        "images_per_second": sum(r["images_per_second"] for r in history) / len(history),
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": (
            torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        ),
        "device": device_name(device),
        "train_images": len(splits["train"]),
        "class_names": class_names,
    }
    return model, history, summary


def write_history(path, history):
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)


if __name__ == "__main__":
    import torchvision

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        torch.set_num_threads(snakemake.threads)
        config = snakemake.params.model_config
        seed = int(snakemake.wildcards.seed)
        weights = snakemake.input.get("weights")
        provenance = read_json(snakemake.input.provenance) if weights else None
        model, history, summary = train(
            snakemake.input.prepared, config, seed, weights, device_from_env(), logger
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
