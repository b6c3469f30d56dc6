"""The benchmark harness: its FLOP counting, its arithmetic, and a tiny run of each
script end to end. Throughput figures are measured, never asserted: they belong
in bench/out and the docs/performance.md."""

import json
import subprocess
import sys

import pytest
import torch
from bench_torch import train_flops_per_image as torch_train_flops
from cifar_compare.config import load_study_config
from cifar_compare.pytorch.models import get_model as get_torch_model
from cifar_compare.pytorch.models import get_spec
from cifar_compare.pytorch.train import Recipe
from conftest import REPO
from harness import add_pipeline_overhead, add_projection, naive_comparisons
from naive_keras import images_to_resize

CONFIG = load_study_config()


def keras_model(name, architecture, **overrides):
    from cifar_compare.keras.models import get_model

    return get_model(architecture, {**CONFIG["models"][name], **overrides})


def test_keras_flop_count_equals_pytorch_counter_for_the_shared_alexnet():
    from keras_flops import train_flops_per_image

    model_config = CONFIG["models"]["alexnet_scratch_pytorch"]
    recipe = Recipe.from_config(model_config, get_spec("alexnet_cifar"))
    torch_flops = torch_train_flops(get_torch_model("alexnet_cifar"), recipe, torch.device("cpu"))
    keras_flops = train_flops_per_image(keras_model("alexnet_scratch_keras", "alexnet_cifar")[0])
    assert torch_flops > 1e9
    assert keras_flops == torch_flops


def small_keras_model():
    """Input 8x8x3 -> base (3x3 conv, 8 filters, same padding) -> pooling -> dense head of
    10, whose multiply-adds per image are written out below."""
    import keras

    inputs = keras.Input((8, 8, 3))
    base = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 3, padding="same")])
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    return keras.Model(inputs, keras.layers.Dense(10, name="head")(x)), base


def test_a_frozen_base_costs_one_forward_pass():
    from keras_flops import train_flops_per_image

    conv_macs = 8 * 8 * (3 * 3 * 3) * 8  # positions x window x in-channels x filters
    head_macs = 8 * 10
    model, base = small_keras_model()
    base.trainable = False
    # Base: forward only. Head: forward and weight gradient (nothing trainable before it).
    assert train_flops_per_image(model) == 2 * conv_macs + 2 * (2 * head_macs)
    base.trainable = True
    # Base: forward and weight gradient (no input gradient for the first layer);
    # head: forward, weight gradient and input gradient.
    assert train_flops_per_image(model) == 2 * (2 * conv_macs) + 3 * (2 * head_macs)


def test_resized_images_are_capped_but_cover_the_timed_steps():
    mb_per_image = 224 * 224 * 3 * 4 / 2**20
    assert images_to_resize(50_000, 224, 64, 7, cap_mb=2048) == int(2048 / mb_per_image)
    assert images_to_resize(50_000, 224, 64, 7, cap_mb=1) == 64 * 7
    assert images_to_resize(1_000, 32, 64, 7, cap_mb=2048) == 1_000


def test_overhead_and_naive_ratios():
    rows = [
        {
            "model": "m",
            "approach": "pipeline",
            "input_size": 224,
            "peak_rss_mb": 1000.0,
            "train_images_per_second": 90.0,
            "staged_images_per_second": 99.0,
        },
        {
            "model": "m",
            "approach": "naive",
            "input_size": 224,
            "peak_rss_mb": 4000.0,
            "projected_peak_rss_mb": 30000.0,
            "train_images_per_second": 30.0,
        },
        {"model": "broken", "approach": "naive", "error": "out of memory"},
    ]
    add_pipeline_overhead(rows)
    assert rows[0]["data_pipeline_overhead"] == pytest.approx(0.1)
    [comparison] = naive_comparisons(rows)
    assert comparison["speedup"] == pytest.approx(3.0)
    assert comparison["rss_ratio"] == pytest.approx(30.0)
    assert comparison["rss_ratio_with_workers"] == pytest.approx(30.0)  # no DataLoader workers
    assert comparison["naive_rss_projected"] and comparison["device_memory_ratio"] is None


TINY = [
    "--train-images",
    "600",
    "--steps",
    "1",
    "--warmup",
    "1",
    "--eval-batch-size",
    "64",
    "--naive",
    "--repeats",
    "1",
    "--naive-workers",
    "0",
]


@pytest.mark.bench
@pytest.mark.parametrize(
    ("script", "models", "extra"),
    [
        # One model each (the scripts loop over models the same way): the resized ones,
        # whose staged and naive input paths differ most.
        ("bench_torch.py", ["alexnet_pretrained_pytorch"], []),
        (
            "bench_keras.py",
            ["mobilenetv2_pretrained_keras"],
            ["--naive-cap-mb", "1", "--precision", "bf16"],  # its bf16 matmul too
        ),
    ],
)
def test_bench_script_writes_every_measurement(tmp_path, script, models, extra):
    command = [
        sys.executable,
        str(REPO / "bench" / script),
        "--models",
        *models,
        *TINY,
        *extra,
        "--out",
        str(tmp_path),
        "--configfile",  # last: it takes every argument after it
        str(REPO / "config" / "test.yaml"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    [result] = [json.loads(path.read_text()) for path in tmp_path.glob("*.json")]
    assert [row.get("error") for row in result["rows"]] == [None] * 2 * len(models)
    pipeline = [row for row in result["rows"] if row["approach"] == "pipeline"]
    for row in pipeline:
        for key in (
            "train_images_per_second",
            "eval_images_per_second",
            "peak_rss_mb",
            "first_step_seconds",
            "fraction_of_matmul",
            "projected_seconds_per_seed",
            "staged_images_per_second",
        ):
            assert row[key] > 0, key
        # The overhead is derived from this row's own two measured rates (its sign is a
        # timing, never asserted).
        staged_over_pipeline = row["staged_images_per_second"] / row["train_images_per_second"]
        assert row["data_pipeline_overhead"] == pytest.approx(staged_over_pipeline - 1)
    assert {c["model"] for c in result["naive_comparisons"]} == set(models)
    assert "x the naive baseline's training img/s" in done.stdout
    assert "matmul reference after the models: fp32" in done.stdout
    if "--precision" in extra:
        assert {row["compute_precision"] for row in result["rows"]} == {"bf16"}
        assert all(row["fraction_of_fp32_matmul"] > 0 for row in pipeline)
    for row in pipeline:  # what auto would pick, whatever --precision set
        assert row["auto_precision"] in ("fp32", "bf16") and row["auto_precision_reason"]


def bench_file(folder, rows):
    folder.mkdir()
    (folder / "torch.json").write_text(json.dumps({"rows": rows, "naive_comparisons": []}))
    return str(folder)


def test_precision_table_sets_each_models_fp32_and_bf16_rates_side_by_side(tmp_path):
    def row(model, rate, **auto):
        return {"model": model, "approach": "pipeline", "train_images_per_second": rate, **auto}

    probed = {"auto_precision": "bf16", "auto_bf16_probe_speedup": 1.76}
    fp32 = [row("a", 200.0, **probed), row("b", 100.0, auto_precision="fp32"), row("c", 1.0)]
    fp32.append({"model": "a", "approach": "naive", "train_images_per_second": 5.0})
    bf16 = [row("a", 380.0), row("b", 50.0)]  # c ran in fp32 only
    folders = bench_file(tmp_path / "fp32", fp32), bench_file(tmp_path / "bf16", bf16)
    command = [sys.executable, str(REPO / "bench" / "precision_table.py"), *folders]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[1].split() == ["a", "200.0", "380.0", "1.90", "bf16", "(probe", "1.76x)"]
    assert lines[2].split()[:5] == ["b", "100.0", "50.0", "0.50", "fp32"]
    assert len(lines) == 3


def test_the_projection_counts_every_test_time_view():
    """2 epochs of 50,000 images at 100 img/s, and 10 views of 10,000 test images at
    1,000 img/s (flip and shifts), after a 1 s first step."""
    rows = [
        {
            "approach": "pipeline",
            "model": "m",
            "first_step_seconds": 1.0,
            "train_images_per_second": 100.0,
            "eval_images_per_second": 1000.0,
        }
    ]
    model = {"epochs": 2, "test_time_flip": True, "test_time_shift": 2}
    add_projection(rows, {"data": {"validation_fraction": 0.0}, "models": {"m": model}})
    assert rows[0]["projected_seconds_per_seed"] == pytest.approx(1 + 1000 + 100)
