"""Shared parts of the benchmark scripts: arguments, model selection, child
processes (one per model and approach, so each peak RSS is its own), the
machine's matmul reference, the naive-baseline ratios and the output tables.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from cifar_compare.config import load_study_config  # noqa: E402
from cifar_compare.metrics import view_count  # noqa: E402
from cifar_compare.runtime.precision import cpu_has_bf16_instructions  # noqa: E402
from tables import print_tables, write_outputs  # noqa: E402

APPROACHES = ("pipeline", "naive")


def parse_args(doc, argv=None):
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="overlays, as for snakemake")
    parser.add_argument("--models", nargs="*", help="model names (default: the enabled ones)")
    parser.add_argument("--train-images", type=int, default=50_000)
    parser.add_argument("--data", help="prepared .npz to use instead of synthetic images")
    parser.add_argument("--batch-size", type=int, help="override every model's batch size")
    parser.add_argument("--input-size", type=int, help="override every model's input size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (>= 1)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument(
        "--repeats", type=int, default=3, help="time the steps this often; keep the fastest"
    )
    parser.add_argument(
        "--eval-batch-size", type=int, help="default: the model's batch size, as the pipeline"
    )
    parser.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    parser.add_argument("--backend", help="Keras backend for every Keras model")
    parser.add_argument(
        "--fine-tune",
        action="store_true",
        help="Keras: time the model's last phase (fine_tune: top of the base unfrozen)",
    )
    parser.add_argument("--compile", action="store_true", help="PyTorch: torch.compile the model")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="override every model's precision (default: the config's, normally auto)",
    )
    parser.add_argument("--naive", action="store_true", help="also run the naive baseline")
    parser.add_argument(
        "--naive-cap-mb",
        type=int,
        default=2048,
        help="Keras naive baseline: resize at most this many MB of images up front",
    )
    parser.add_argument("--naive-workers", type=int, default=2, help="naive DataLoader workers")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: JSON of one model
    parser.add_argument(
        "--approach", choices=APPROACHES, default="pipeline", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if min(args.warmup, args.steps, args.repeats) < 1:
        parser.error("--warmup, --steps and --repeats must be at least 1")
    return args


def load_images(args):
    """The training set as uint8 NHWC plus labels: real (--data) or synthetic."""
    import numpy as np

    if args.data:
        from cifar_compare.data.dataset import load_prepared

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
    if args.precision:
        model_config["precision"] = args.precision
    return model_config


def child_argv(argv):
    """The parent's arguments without the parent-only --naive flag."""
    return [arg for arg in argv if arg != "--naive"]


def run_child(script, name, model_config, argv, approach):
    command = [
        sys.executable,
        str(script),
        *child_argv(argv),
        "--one",
        json.dumps(model_config),
        "--approach",
        approach,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"model": name, "approach": approach, "error": lines[-1]}
    return {"model": name, "approach": approach, **json.loads(done.stdout.strip().splitlines()[-1])}


MATMUL_PRODUCTS = 5  # products per reference stretch


def matmul_size(on_gpu):
    return 8192 if on_gpu else 2048


def matmul_flops_per_second(size, seconds):
    return 2 * size**3 * MATMUL_PRODUCTS / seconds


def interleaved_matmul_flops(size, best):
    """The matmul FLOP/s timed beside a model (alternate_with_references' `best`
    seconds): at the model's precision and in fp32 (the same where it trains in fp32)."""
    return {
        "interleaved_matmul_flops_per_second": matmul_flops_per_second(size, best["matmul"]),
        "interleaved_fp32_matmul_flops_per_second": matmul_flops_per_second(
            size, best.get("matmul_fp32", best["matmul"])
        ),
    }


def torch_matmul_step(device, dtype, size):
    """A step of MATMUL_PRODUCTS products of two size x size matrices, in PyTorch."""
    import torch

    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))

    def step(_i):
        for _ in range(MATMUL_PRODUCTS):
            a @ b

    return step


def synchronizer(device):
    """A function that waits for the PyTorch device's queued work (nothing on a CPU)."""
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def matmul_reference():
    """This machine's large-matmul FLOP/s in fp32 and bf16 (PyTorch, CPU or first GPU),
    measured by the parent after the models, for the printed summary."""
    import torch

    on_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    sync = synchronizer(device)
    reference = {}
    native_bf16 = on_gpu or cpu_has_bf16_instructions()  # AMX or AVX512-BF16
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        # CPUs without bf16 units run bf16 products hundreds of times slower: keep it small.
        size = matmul_size(on_gpu) if native_bf16 or name == "fp32" else matmul_size(False) // 4
        _, seconds = timed_steps(torch_matmul_step(device, dtype, size), 1, 1, sync, repeats=5)
        reference[name] = matmul_flops_per_second(size, seconds)
    return reference


def add_fraction_of_reference(rows, reference):
    """Model FLOP/s (counted FLOPs per image x images/s) as a share of the matmul FLOP/s
    of the precision it trains in (bf16 where it trains in bf16), and of the fp32 one
    beside it: those measured in alternation with the model's own steps where the
    child did so, else the parent's."""
    for row in rows:
        flops = row.get("train_flops_per_image")
        precision = row.get("compute_precision", "fp32")
        if flops and "train_images_per_second" in row:
            achieved = flops * row["train_images_per_second"]
            row["train_flops_per_second"] = achieved
            own = row.get("interleaved_matmul_flops_per_second")  # measured beside the model
            fp32 = row.get("interleaved_fp32_matmul_flops_per_second")
            row["fraction_of_matmul"] = achieved / (own or reference[precision])
            row["fraction_of_fp32_matmul"] = achieved / (fp32 or reference["fp32"])
        row["matmul_fp32_flops_per_second"] = reference["fp32"]
        row["matmul_bf16_flops_per_second"] = reference["bf16"]


def add_pipeline_overhead(rows):
    """Extra time per image of the full data pipeline over pre-staged model-ready tensors."""
    for row in rows:
        if row.get("staged_images_per_second") and row.get("train_images_per_second"):
            row["data_pipeline_overhead"] = (
                row["staged_images_per_second"] / row["train_images_per_second"] - 1
            )


def add_projection(rows, config):
    """Projected time of one seed of each model's full training and evaluation."""
    validation = config["data"]["validation_fraction"]
    train_images, val_images, test_images = 50_000 * (1 - validation), 50_000 * validation, 10_000
    for row in rows:
        if row.get("approach") != "pipeline" or "error" in row:
            continue
        model = config["models"][row["model"]]
        scored = test_images * view_count(model["test_time_flip"], model["test_time_shift"])
        row["projected_seconds_per_seed"] = (
            row["first_step_seconds"]
            + model["epochs"] * train_images / row["train_images_per_second"]
            + (model["epochs"] * val_images + scored) / row["eval_images_per_second"]
        )


def _memory_ratio(naive, ours, key):
    """naive / pipeline peak memory by `key`, using the naive run's full-set projection
    where it could only resize part of the set."""
    naive_memory = naive.get(f"projected_{key}") or naive.get(key)
    return naive_memory / ours[key] if naive_memory and ours.get(key) else None


def _with_workers(naive):
    """Upper bound of the naive run's host memory: its own peak plus each DataLoader
    worker at the largest worker's peak (pages a worker shares with its parent count twice)."""
    workers = naive.get("naive_workers", 0) * (naive.get("largest_worker_peak_rss_mb") or 0)
    return (naive.get("projected_peak_rss_mb") or naive["peak_rss_mb"]) + workers


def naive_comparisons(rows):
    """Per model: pipeline/naive training img/s, and naive/pipeline peak memory."""
    by_key = {(row["model"], row["approach"]): row for row in rows if "error" not in row}
    comparisons = []
    for (model, approach), ours in by_key.items():
        naive = by_key.get((model, "naive"))
        if approach != "pipeline" or naive is None:
            continue
        comparisons.append(
            {
                "model": model,
                "input_size": ours["input_size"],
                "speedup": ours["train_images_per_second"] / naive["train_images_per_second"],
                "rss_ratio": _memory_ratio(naive, ours, "peak_rss_mb"),
                "device_memory_ratio": _memory_ratio(naive, ours, "peak_device_memory_mb"),
                "rss_ratio_with_workers": _with_workers(naive) / ours["peak_rss_mb"],
                "naive_rss_projected": naive.get("projected_peak_rss_mb") is not None,
            }
        )
    return comparisons


def auto_precision(adapter):
    """What `precision: auto` picks for the started model on this machine, whatever
    --precision set: after the timings, so its probe's model adds to no peak."""
    decision = adapter.resolve_precision("auto")
    probe = decision.probe or {}
    return {
        "auto_precision": decision.precision,
        "auto_precision_reason": decision.reason,
        "auto_bf16_probe_speedup": probe.get("bf16_speedup"),
    }


def main(doc, script, framework, measure, argv=None):
    """Parent: one child per model and approach, then the tables. Child: measure one."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(doc, argv)
    if args.one:
        print(json.dumps(measure[args.approach](json.loads(args.one), args)))
        return
    config = load_study_config(args.configfile)
    models = selected_models(config, framework, args.models)
    approaches = APPROACHES if args.naive else APPROACHES[:1]
    rows = [
        run_child(script, name, apply_overrides(model, args), argv, approach)
        for name, model in models.items()
        for approach in approaches
    ]
    reference = matmul_reference()
    add_fraction_of_reference(rows, reference)
    add_pipeline_overhead(rows)
    add_projection(rows, config)
    comparisons = naive_comparisons(rows)
    write_outputs(rows, comparisons, args.out, framework)
    print_tables(rows, comparisons, reference)


def first_step_seconds(step, warmup, synchronize=lambda: None):
    """Run the `warmup` untimed steps; return how long the first one took."""
    start = time.perf_counter()
    step(0)
    synchronize()
    first = time.perf_counter() - start
    for i in range(1, warmup):
        step(i)
    synchronize()
    return first


def step_stretch(step, warmup, steps, synchronize=lambda: None):
    """A stretch: a function of the round number that runs `steps` steps and returns
    their seconds (step indices carry on after the warm-up and earlier rounds)."""

    def stretch(round_number):
        synchronize()
        start = time.perf_counter()
        for i in range(steps):
            step(warmup + round_number * steps + i)
        synchronize()
        return time.perf_counter() - start

    return stretch


def best_of_alternating(stretches, repeats):
    """Run each named stretch in turn for `repeats` rounds and keep each one's fastest time.

    Alternating puts every contender (the pipeline, pre-staged tensors, the matmul
    reference) through the same slow drifts of a shared machine, and other work
    only ever slows a stretch down.
    """
    best = dict.fromkeys(stretches, float("inf"))
    for round_number in range(repeats):
        for name, stretch in stretches.items():
            best[name] = min(best[name], stretch(round_number))
    return best


def alternate_with_references(pipeline, staged, matmuls, args, synchronize=lambda: None):
    """Best seconds of the `pipeline` stretch, pre-staged steps and each matmul reference
    step, timed in alternation after their warm-ups (the pipeline's is done already)."""
    first_step_seconds(staged, args.warmup, synchronize)
    for matmul in matmuls.values():
        first_step_seconds(matmul, 1, synchronize)
    stretches = {
        "pipeline": pipeline,
        "staged": step_stretch(staged, args.warmup, args.steps, synchronize),
        **{name: step_stretch(step, 1, 1, synchronize) for name, step in matmuls.items()},
    }
    return best_of_alternating(stretches, args.repeats)


def timed_steps(step, warmup, steps, synchronize=lambda: None, repeats=1):
    """(first step seconds, best time of `steps` steps over `repeats` rounds)."""
    first = first_step_seconds(step, warmup, synchronize)
    stretch = step_stretch(step, warmup, steps, synchronize)
    return first, best_of_alternating({"steps": stretch}, repeats)["steps"]
