"""The learning curve in the DAG: job counts of the shipped configs, a tiny curve study
run for real (nested subsets on disk, schedules recorded, tables and report section),
and what adding or removing a size reruns."""

import csv
import json
import re
import shutil

import numpy as np
import pytest
import yaml
from cifar_compare.data.dataset import load_prepared
from conftest import (
    REPO,
    TINY,
    TWO_JOBS_AT_A_TIME,
    copy_workflow,
    planned_jobs,
    snakemake,
    write_overlay,
)

README = (REPO / "README.md").read_text()
CONFIGS = ["config/data-efficiency.yaml", "config/data-efficiency-cpu.yaml"]


def job_counts(output):
    """{rule: jobs} of a dry run's job stats table, with its total."""
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}


def readme_counts(config):
    """(jobs in all, training jobs, evaluation jobs) that README's table gives `config`."""
    row = re.search(
        rf"^\| `{re.escape(config)}` \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|", README, re.M
    )
    assert row, f"README has no job-count row for {config}"
    return tuple(int(n.replace(",", "")) for n in row.groups())


@pytest.mark.parametrize("config", CONFIGS)
def test_readme_gives_the_dry_run_job_counts_of_the_curve_configs(tmp_path, config):
    workdir = copy_workflow(tmp_path / "wf")
    counts = job_counts(snakemake(workdir, "-n", "--configfile", config).stdout)
    training = sum(n for rule, n in counts.items() if re.match(r"train_\w+_sized$", rule))
    evaluation = sum(n for rule, n in counts.items() if re.match(r"evaluate_\w+_sized$", rule))
    assert readme_counts(config) == (counts["total"], training, evaluation)
    sizes = yaml.safe_load((REPO / config).read_text())["learning_curve"]["sizes"]
    assert counts["subset_data"] == len(sizes)


MODELS = ["alexnet_scratch_pytorch", "alexnet_pretrained_pytorch"]
PAIR = "Pretraining (alexnet_pretrained_pytorch over alexnet_scratch_pytorch) adds"


def curve_overlay(sizes):
    """The tiny study's two PyTorch models at `sizes`, a handful of steps each."""
    disabled = {"alexnet_scratch_keras", "mobilenetv2_pretrained_keras"}
    return {
        "learning_curve": {
            "sizes": sizes,
            "schedule": {"policy": "fixed_steps", "reference_per_class": 4, "max_epochs": 3},
        },
        "models": {name: {"enabled": False} for name in disabled},
    }


@pytest.fixture(scope="module")
def curve_study(tiny_run, tmp_path_factory):
    """The tiny run's folder with a two-size curve of two models run for real."""
    workdir = tmp_path_factory.mktemp("curve") / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    write_overlay(workdir / "curve.yaml", curve_overlay([2, 4]))
    snakemake(workdir, *TWO_JOBS_AT_A_TIME, *TINY, "curve.yaml")
    return workdir


def planned_sized_jobs(workdir, sizes):
    """'rule size model' (or 'rule size', or 'rule') of each job a dry run plans."""
    write_overlay(workdir / "plan.yaml", curve_overlay(sizes))
    return planned_jobs(snakemake(workdir, "-n", *TINY, "plan.yaml").stdout, ("size", "model"))


@pytest.mark.pipeline
def test_the_subsets_on_disk_are_nested_and_exactly_stratified(curve_study):
    subsets = {}
    for size in (2, 4):
        splits, _ = load_prepared(curve_study / f"results/sizes/n{size}/data/cifar10.npz")
        assert np.bincount(splits["train"].labels).tolist() == [size] * 10
        subsets[size] = {image.tobytes() for image in splits["train"].images}
        whole, _ = load_prepared(curve_study / "results/data/cifar10.npz")
        for split in ("val", "test"):
            assert np.array_equal(splits[split].labels, whole[split].labels)
    assert subsets[2] < subsets[4]


@pytest.mark.pipeline
def test_each_size_trains_its_recorded_schedule_and_the_report_shows_the_curve(curve_study):
    # reference: 4 per class, 40 images // 16 = 2 steps an epoch; scratch: 2 epochs, 4
    # steps. At 2 per class: 20 // 16 = 1 step an epoch, 4 epochs wanted, 3 allowed.
    expected = {("alexnet_scratch_pytorch", 2): 3, ("alexnet_scratch_pytorch", 4): 2}
    for (model, size), epochs in expected.items():
        path = curve_study / f"results/sizes/n{size}/metrics/{model}/seed0.json"
        curve = json.loads(path.read_text())["model_config"]["curve"]
        assert (curve["train_per_class"], curve["epochs"]) == (size, epochs)
        history = curve_study / f"results/sizes/n{size}/models/{model}/seed0/history.csv"
        assert len(history.read_text().splitlines()) == 1 + epochs
    with open(curve_study / "results/tables/learning_curve.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["model"], r["size"]) for r in rows) == sorted(
        (m, str(s)) for m in MODELS for s in (2, 4)
    )
    html = (curve_study / "results/report.html").read_text()
    assert "4.1 When does pretraining pay off?" in html
    assert PAIR in html and "at 2 images per class and" in html
    assert "Fewer updates: alexnet_scratch_pytorch at 2 images per class" not in html


@pytest.mark.pipeline
def test_adding_a_size_plans_only_that_sizes_jobs(curve_study):
    expected = {"subset_data 8", "learning_curve", "aggregate", "plots", "report"}
    expected |= {f"{step}_pytorch_sized 8 {m}" for step in ("train", "evaluate") for m in MODELS}
    assert planned_sized_jobs(curve_study, [2, 4, 8]) == expected


@pytest.mark.pipeline
def test_removing_a_size_retrains_nothing(curve_study):
    # The largest size (the report's tables) is unchanged: only the curve and the report.
    assert planned_sized_jobs(curve_study, [4]) == {"learning_curve", "report"}
