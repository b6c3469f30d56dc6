"""Shared parts of the benchmark scripts: arguments, model selection, child
processes (one per model, so each peak RSS is its own) and the output table.
"""

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from study_config import load_study_config  # noqa: E402


def parse_args(doc, argv=None):
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="overlays, as for snakemake")
    parser.add_argument("--models", nargs="*", help="model names (default: the enabled ones)")
    parser.add_argument("--train-images", type=int, default=50_000)
    parser.add_argument("--data", help="prepared .npz to use instead of synthetic images")
    parser.add_argument("--batch-size", type=int, help="override every model's batch size")
    parser.add_argument("--input-size", type=int, help="override every model's input size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: JSON of one model
    return parser.parse_args(argv)


def load_images(args):
    """The training set as uint8 NHWC plus labels: real (--data) or synthetic."""
    import numpy as np

    if args.data:
        from cifar_compare.dataset import load_prepared

        split = load_prepared(args.data, ("train",))[0]["train"]
        return split.images, split.labels
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.train_images, 32, 32, 3), dtype=np.uint8)
    return images, rng.integers(0, 10, size=args.train_images).astype(np.int64)


def selected_models(config, framework, names):
    models = {
        name: model
        for name, model in config["models"].items()
        if model["framework"] == framework and (model["enabled"] or names)
    }
    if names:
        unknown = sorted(set(names) - set(models))
        if unknown:
            raise SystemExit(f"not {framework} models of this config: {', '.join(unknown)}")
        models = {name: models[name] for name in names}
    return models


def apply_overrides(model_config, args):
    model_config = dict(model_config)
    if args.batch_size:
        model_config["batch_size"] = args.batch_size
    if args.input_size:
        model_config["input_size"] = args.input_size
    return model_config


def run_child(script, name, model_config, argv):
    command = [sys.executable, str(script), *argv, "--one", json.dumps(model_config)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"model": name, "error": lines[-1]}
    return {"model": name, **json.loads(done.stdout.strip().splitlines()[-1])}


def write_outputs(rows, out_dir, stem):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    fields = sorted({key for row in rows for key in row})
    with open(out_dir / f"{stem}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def print_table(rows):
    header = ("model", "input", "batch", "img/s", "peak RSS MB", "1st step s", "of fp32 mm")
    print("{:32} {:>5} {:>5} {:>9} {:>11} {:>10} {:>10}".format(*header))
    for row in rows:
        if "error" in row:
            print(f"{row['model']:32} error: {row['error']}")
            continue
        fraction = row.get("fraction_of_fp32_matmul")
        print(
            f"{row['model']:32} {row['input_size']:>5} {row['batch_size']:>5} "
            f"{row['train_images_per_second']:>9.1f} {row['peak_rss_mb']:>11.0f} "
            f"{row['first_step_seconds']:>10.2f} "
            f"{'n/a' if fraction is None else f'{fraction:.0%}':>10}"
        )
    print(f"device: {rows[0].get('device', '?') if rows else '?'}")


def matmul_reference(size=2048, repeats=5):
    """This machine's large-matmul FLOP/s in fp32 and bf16 (PyTorch, CPU or first GPU),
    measured in the same run as the models, as the yardstick for their throughput."""
    import time

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    reference = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        # CPUs without bf16 units run bf16 matmuls hundreds of times slower: keep it short.
        n = size if device == "cuda" or dtype == torch.float32 else size // 4
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(3):  # warm-up: thread pool and clock speed settle
            a @ b
        best = float("inf")
        for _trial in range(5):  # the best of five: other work only ever slows it down
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(repeats):
                a @ b
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        reference[name] = 2 * n**3 * repeats / best
    return reference


def add_fraction_of_reference(rows, reference):
    """Model FLOP/s (counted FLOPs per image x images/s) as a share of fp32 matmul FLOP/s."""
    for row in rows:
        flops = row.get("train_flops_per_image")
        if flops and "train_images_per_second" in row:
            achieved = flops * row["train_images_per_second"]
            row["train_flops_per_second"] = achieved
            row["fraction_of_fp32_matmul"] = achieved / reference["fp32"]
        row["matmul_fp32_flops_per_second"] = reference["fp32"]
        row["matmul_bf16_flops_per_second"] = reference["bf16"]


def main(doc, script, framework, measure_one, argv=None):
    """Parent: one child per model, then the table. Child (--one): measure one model."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(doc, argv)
    if args.one:
        print(json.dumps(measure_one(json.loads(args.one), args)))
        return
    models = selected_models(load_study_config(args.configfile), framework, args.models)
    rows = [
        run_child(script, name, apply_overrides(model, args), argv)
        for name, model in models.items()
    ]
    reference = matmul_reference()
    add_fraction_of_reference(rows, reference)
    write_outputs(rows, args.out, framework)
    print_table(rows)
    print(
        f"matmul reference: fp32 {reference['fp32'] / 1e9:.1f} GFLOP/s, "
        f"bf16 {reference['bf16'] / 1e9:.1f} GFLOP/s"
    )


def timed_steps(step, warmup, steps, synchronize=lambda: None):
    """(first step seconds, seconds of `steps` timed steps after `warmup` untimed ones)."""
    import time

    start = time.perf_counter()
    step(0)
    synchronize()
    first = time.perf_counter() - start
    for i in range(1, warmup):
        step(i)
    synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(warmup + i)
    synchronize()
    return first, time.perf_counter() - start
