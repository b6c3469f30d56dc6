"""The whole DAG on a tiny generated archive, and Snakemake's rerun behaviour."""

import json
import re

import jsonschema
import pandas as pd
import pytest
import torch
from cifar_compare.metrics import decode_labels
from conftest import REPO, TINY, copy_workflow, snakemake, write_overlay

pytestmark = pytest.mark.pipeline
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
        assert metrics["model_config"]["seeds"] == [0]
        # per-image predictions agree with the accuracy; calibration bins count every image
        predictions = metrics["test_predictions"]
        right = decode_labels(predictions["predicted"]) == decode_labels(predictions["labels"])
        assert len(right) == 100 and right.mean() == pytest.approx(metrics["test_accuracy"])
        assert sum(metrics["calibration"]["count"]) == 100
        assert metrics["data"]["official"] is False  # the generated archive


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


def test_tables_list_every_model(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/summary.csv")
    assert table["model"].tolist() == MODELS
    markdown = (tiny_run / "results/tables/summary.md").read_text()
    assert all(model in markdown for model in MODELS) and "UNOFFICIAL" in markdown


def test_every_job_left_a_log_and_training_a_benchmark(tiny_run):
    logs = {
        p.relative_to(tiny_run / "results/logs").as_posix()
        for p in (tiny_run / "results/logs").rglob("*.log")
    }
    assert {"download_cifar.log", "prepare_data.log", "aggregate.log"} <= logs
    assert (
        "epoch 2/2"
        in (tiny_run / "results/logs/train/alexnet_scratch_pytorch/seed0.log").read_text()
    )
    assert (tiny_run / "results/benchmarks/train/alexnet_scratch_pytorch/seed0.tsv").is_file()


def test_reruns_only_what_changed(tiny_run):
    assert "Nothing to be done" in snakemake(tiny_run, *TINY, "-n").stdout
    outputs = [
        "results/models/alexnet_scratch_pytorch/seed0/checkpoint.pt",
        "results/models/alexnet_pretrained_pytorch/seed0/checkpoint.pt",
        "results/data/cifar10.npz",
        "results/tables/summary.csv",
    ]
    before = {path: (tiny_run / path).stat().st_mtime_ns for path in outputs}
    changed = {"models": {"alexnet_scratch_pytorch": {"optimizer": {"name": "sgd", "lr": 0.01}}}}
    write_overlay(tiny_run / "changed.yaml", changed)
    plan = snakemake(tiny_run, *TINY, "changed.yaml", "-n").stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan.split("Job stats:")[1], re.M))
    assert jobs == {
        "train_pytorch": "1",
        "evaluate_pytorch": "1",
        "aggregate": "1",
        "plots": "1",
        "report": "1",
        "all": "1",
        "total": "6",
    }
    assert "wildcards: model=alexnet_scratch_pytorch, seed=0" in plan
    snakemake(tiny_run, *TINY, "changed.yaml")
    after = {path: (tiny_run / path).stat().st_mtime_ns for path in outputs}
    assert [after[p] != before[p] for p in outputs] == [True, False, False, True]
    assert (
        metrics_of(tiny_run, "alexnet_scratch_pytorch")["model_config"]["optimizer"]["lr"] == 0.01
    )


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
    assert len({m for m, _, _ in extended}) == 7
