"""The whole DAG on a tiny generated archive (what reruns when: test_staleness.py)."""

import json
import re

import jsonschema
import pandas as pd
import pytest
import torch
from cifar_compare.config import load_study_config
from cifar_compare.metrics import decode_labels
from cifar_compare.runtime.environment import cpu_model
from conftest import REPO, copy_workflow, snakemake

MODELS = [
    "alexnet_scratch_pytorch",
    "alexnet_pretrained_pytorch",
    "alexnet_scratch_keras",
    "mobilenetv2_pretrained_keras",
]
PRETRAINED = ["alexnet_pretrained_pytorch", "mobilenetv2_pretrained_keras"]


def metrics_of(workdir, model):
    return json.loads((workdir / f"results/metrics/{model}/seed0.json").read_text())


def test_metrics_are_valid_and_consistent(tiny_run):
    schema = json.loads((REPO / "workflow/schemas/metrics.schema.json").read_text())
    for model in MODELS:
        metrics = metrics_of(tiny_run, model)
        jsonschema.validate(metrics, schema)
        matrix = metrics["confusion_matrix"]
        assert sum(map(sum, matrix)) == metrics["test_images"] == 100
        diagonal = sum(matrix[i][i] for i in range(10))
        assert diagonal / 100 == pytest.approx(metrics["test_accuracy"])
        # The recipe, not which replicates run: adding a seed leaves seed 0 alone.
        assert metrics["seed"] == 0 and not {"seeds", "enabled"} & set(metrics["model_config"])
        # How it was scored is recorded beside the recipe, not in it.
        views = {"test_time_flip", "test_time_shift"}
        assert not views & set(metrics["model_config"])
        assert metrics["test_time_shift"] == metrics["study_test_time_shift"] == 2  # config.yaml's
        environment = metrics["training"]["environment"]
        assert environment["cpu"] == cpu_model()
        if metrics["training"]["peak_device_memory_mb"] is None:  # trained on the CPU
            assert environment["gpu"] is environment["cuda"] is environment["cudnn"] is None
        # per-image predictions agree with the accuracy; calibration bins count every image
        predictions = metrics["test_predictions"]
        right = decode_labels(predictions["predicted"]) == decode_labels(predictions["labels"])
        assert len(right) == 100 and right.mean() == pytest.approx(metrics["test_accuracy"])
        assert sum(metrics["calibration"]["count"]) == 100
        assert metrics["data"]["official"] is False  # the generated archive


def test_one_keras_job_trains_on_the_torch_backend_and_the_other_on_tensorflow(tiny_run):
    """config/test.yaml puts MobileNetV2 on Keras' torch backend (the schema offers both)."""
    on_torch = metrics_of(tiny_run, "mobilenetv2_pretrained_keras")
    on_tensorflow = metrics_of(tiny_run, "alexnet_scratch_keras")
    assert on_torch["model_config"]["backend"] == "torch"
    assert "torch" in on_torch["versions"] and "tensorflow" not in on_torch["versions"]
    assert "tensorflow" in on_tensorflow["versions"]
    log = (tiny_run / "results/logs/train/mobilenetv2_pretrained_keras/seed0.log").read_text()
    assert "(torch backend)" in log


def test_pretrained_metrics_record_unofficial_weights(tiny_run):
    for model in PRETRAINED:
        weights = metrics_of(tiny_run, model)["weights"]
        assert weights["official"] is False and len(weights["sha256"]) == 64
    assert not metrics_of(tiny_run, PRETRAINED[0])["weights"]["sha256"].startswith("7be5be79")
    assert metrics_of(tiny_run, "alexnet_scratch_pytorch")["weights"] is None
    assert metrics_of(tiny_run, "alexnet_scratch_keras")["weights"] is None


def test_checkpoint_and_history_carry_hyperparameters(tiny_run):
    run = tiny_run / "results/models/alexnet_scratch_pytorch/seed0"
    record = torch.load(run / "checkpoint.pt", weights_only=True)
    assert record["model_config"]["optimizer"]["name"] == "adamw"
    assert record["architecture"] == "alexnet_cifar" and record["seed"] == 0
    torch_history = pd.read_csv(run / "history.csv")
    assert torch_history["epoch"].tolist() == [1, 2]
    assert {"train_loss", "val_accuracy", "epoch_seconds", "images_per_second"} <= set(
        torch_history
    )
    keras_run = tiny_run / "results/models/mobilenetv2_pretrained_keras/seed0"
    keras_record = json.loads((keras_run / "checkpoint.json").read_text())
    assert keras_record["model_config"]["fine_tune"]["epochs"] == 1
    assert (keras_run / "checkpoint.weights.h5").is_file()
    keras_history = pd.read_csv(keras_run / "history.csv")
    assert list(keras_history.columns) == list(torch_history.columns)  # no framework branches
    assert keras_history["epoch"].tolist() == [1, 2]


def test_a_successful_run_ends_saying_where_the_report_is(tiny_run):
    console = (tiny_run / "console.txt").read_text()
    pdf = (tiny_run / "results" / "report.pdf").resolve()
    assert f"The report: {pdf} (and report.html beside it)" in console


def test_tables_list_every_model(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/summary.csv")
    assert table["model"].tolist() == MODELS
    markdown = (tiny_run / "results/tables/summary.md").read_text()
    assert all(model in markdown for model in MODELS) and "UNOFFICIAL" in markdown


def test_every_job_left_a_log_and_training_a_benchmark(tiny_run):
    config = load_study_config([REPO / "config/test.yaml"])
    per_model = [f"{stage}/{model}/seed0" for model in MODELS for stage in ("train", "evaluate")]
    weights = ["alexnet_imagenet1k_v1.pth", "mobilenet_v2_imagenet_no_top_128.h5"]
    expected_logs = {
        "download_cifar.log",
        "prepare_data.log",
        *(f"fetch_weights/{name}.log" for name in weights),
        *(f"{job}.log" for job in per_model),
        "aggregate.log",
        "plots.log",
        "report.log",
    }
    logs = {
        p.relative_to(tiny_run / "results/logs").as_posix()
        for p in (tiny_run / "results/logs").rglob("*.log")
    }
    assert expected_logs <= logs, sorted(expected_logs - logs)
    expected_benchmarks = {
        "prepare_data.tsv",
        *(f"{job}.tsv" for job in per_model),
        "plots.tsv",
        "report.tsv",
    }
    benchmarks = {
        p.relative_to(tiny_run / "results/benchmarks").as_posix()
        for p in (tiny_run / "results/benchmarks").rglob("*.tsv")
    }
    assert expected_benchmarks <= benchmarks, sorted(expected_benchmarks - benchmarks)
    for model in MODELS:  # each training log followed its run to the last epoch
        epochs = config["models"][model]["epochs"]
        log = (tiny_run / f"results/logs/train/{model}/seed0.log").read_text()
        assert f"epoch {epochs}/{epochs}" in log, model


def training_jobs(plan):
    """(model, seed, resources) of every training job in a dry-run plan."""
    return re.findall(
        r"rule train_(?:pytorch|keras):.*?wildcards: model=(\w+), seed=(\d+)\n"
        r"\s+threads: \d+\n\s+resources: ([^\n]+)",
        plan,
        re.S,
    )


def test_full_study_dry_run_has_one_gpu_job_per_model_and_seed(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    jobs = training_jobs(snakemake(workdir, "-n").stdout)
    assert sorted((m, s) for m, s, _ in jobs) == [
        (m, str(s)) for m in sorted(MODELS) for s in range(3)
    ]
    assert all("gpu=1" in resources for _, _, resources in jobs)
    for overlay in ("config/quick.yaml", "config/original.yaml"):
        quick = training_jobs(snakemake(workdir, "-n", "--configfile", overlay).stdout)
        assert sorted(m for m, _, _ in quick) == sorted(MODELS)  # one seed each
    extended = training_jobs(
        snakemake(workdir, "-n", "--configfile", "config/extended.yaml").stdout
    )
    configured = load_study_config([REPO / "config/extended.yaml"])["models"]
    assert {m for m, _, _ in extended} == {n for n, m in configured.items() if m["enabled"]}
