"""Benchmark PyTorch training: images/s and peak memory per configured model.

Not a test: it measures this machine. Each model runs in its own process so its
peak RSS is its own. The whole training set (50,000 images by default, as uint8
at 32x32) is loaded on the training device, exactly as the pipeline does.

    .venv/bin/python bench/bench_torch.py                      # models of config/config.yaml
    .venv/bin/python bench/bench_torch.py --configfile config/quick.yaml --steps 10
    .venv/bin/python bench/bench_torch.py --models alexnet_pretrained_pytorch --batch-size 128

Writes bench/out/torch.json and bench/out/torch.csv and prints a table.
"""

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from study_config import load_study_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="overlays, as for snakemake")
    parser.add_argument("--models", nargs="*", help="model names (default: enabled PyTorch ones)")
    parser.add_argument("--train-images", type=int, default=50_000)
    parser.add_argument("--data", help="prepared .npz to use instead of synthetic images")
    parser.add_argument("--batch-size", type=int, help="override every model's batch size")
    parser.add_argument("--input-size", type=int, help="override every model's input size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: JSON of one model
    return parser.parse_args(argv)


def load_images(args):
    import numpy as np

    if args.data:
        from cifar_compare.dataset import load_prepared

        split = load_prepared(args.data, ("train",))[0]["train"]
        return split.images, split.labels
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.train_images, 32, 32, 3), dtype=np.uint8)
    return images, rng.integers(0, 10, size=args.train_images).astype(np.int64)


def measure_one(model_config, args):
    """Run warm-up and timed steps of one model; return its measurements."""
    import torch
    from cifar_compare.resources import peak_rss_mb
    from cifar_compare.torch_checkpoint import device_from_env, device_name
    from cifar_compare.torch_models import get_model, get_spec
    from cifar_compare.torch_train import Recipe, make_optimizer, seed_everything, train_step

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(0)
    device = device_from_env()
    images, labels = (torch.from_numpy(a).to(device) for a in load_images(args))
    recipe = Recipe.from_config(model_config, get_spec(model_config["architecture"]))
    model = get_model(model_config["architecture"]).to(device, memory_format=torch.channels_last)
    model.train()
    optimizer, scheduler = make_optimizer(model, recipe, args.warmup + args.steps)
    generator = torch.Generator(device=device).manual_seed(0)
    order = torch.randperm(len(labels), generator=generator, device=device)

    def step(i):
        index = order[(i * recipe.batch_size) % len(labels) :][: recipe.batch_size]
        train_step(model, images[index], labels[index], recipe, optimizer, scheduler, generator)

    start = time.perf_counter()
    step(0)
    first_step = time.perf_counter() - start
    for i in range(1, args.warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(args.steps):
        step(args.warmup + i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {
        "device": device_name(device),
        "train_images_loaded": len(labels),
        "batch_size": recipe.batch_size,
        "input_size": recipe.input_size,
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * recipe.batch_size / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": (
            torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        ),
    }


def selected_models(config, names):
    models = {
        name: model
        for name, model in config["models"].items()
        if model["framework"] == "pytorch" and (model["enabled"] or names)
    }
    if names:
        unknown = sorted(set(names) - set(models))
        if unknown:
            raise SystemExit(f"not PyTorch models of this config: {', '.join(unknown)}")
        models = {name: models[name] for name in names}
    return models


def apply_overrides(model_config, args):
    model_config = dict(model_config)
    if args.batch_size:
        model_config["batch_size"] = args.batch_size
    if args.input_size:
        model_config["input_size"] = args.input_size
    return model_config


def run_child(name, model_config, argv):
    command = [sys.executable, __file__, *argv, "--one", json.dumps(model_config)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"model": name, "error": done.stderr.strip().splitlines()[-1]}
    return {"model": name, **json.loads(done.stdout.strip().splitlines()[-1])}


def write_outputs(rows, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "torch.json").write_text(json.dumps(rows, indent=2) + "\n")
    fields = sorted({key for row in rows for key in row})
    with open(out_dir / "torch.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def print_table(rows):
    header = ("model", "input", "batch", "img/s", "peak RSS MB", "1st step s")
    print("{:32} {:>5} {:>5} {:>9} {:>11} {:>10}".format(*header))
    for row in rows:
        if "error" in row:
            print(f"{row['model']:32} error: {row['error']}")
            continue
        print(
            f"{row['model']:32} {row['input_size']:>5} {row['batch_size']:>5} "
            f"{row['train_images_per_second']:>9.1f} {row['peak_rss_mb']:>11.0f} "
            f"{row['first_step_seconds']:>10.2f}"
        )
    print(f"device: {rows[0].get('device', '?')}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one), args)))
        return
    config = load_study_config(args.configfile)
    models = selected_models(config, args.models)
    rows = [run_child(name, apply_overrides(m, args), argv) for name, m in models.items()]
    write_outputs(rows, args.out)
    print_table(rows)


if __name__ == "__main__":
    main()
