"""What reruns after each kind of change: docs/reruns.md's staleness matrix, row by row.

One tiny study is run (the session's `tiny_run`, copied so that its folder moves,
plus a real run adding a second seed to one model); every row is then a dry run
(`snakemake -n`) whose job list must be exactly the expected one.
"""

import json
import os
import re
import shutil
import time

import pytest
import yaml
from cifar_compare.code_identity import code_files
from conftest import REPO, TINY, planned_jobs, snakemake, write_overlay

TWO_SEEDS = "alexnet_scratch_pytorch"  # the model with seeds [0, 1] in the base study
BASE = {"models": {TWO_SEEDS: {"seeds": [0, 1]}}}
TAIL = {"aggregate", "plots", "report"}  # downstream of every model's results
PYTORCH = {
    f"{step}_pytorch {model} {seed}"
    for step in ("train", "evaluate")
    for model, seed in [(TWO_SEEDS, 0), (TWO_SEEDS, 1), ("alexnet_pretrained_pytorch", 0)]
}
KERAS = {
    f"{step}_keras {model} 0"
    for step in ("train", "evaluate")
    for model in ("alexnet_scratch_keras", "mobilenetv2_pretrained_keras")
}
SCRIPTS = REPO / "workflow/scripts"


def code_files_of(script):
    """What the code param of `script`'s rule covers, as paths under workflow/scripts."""
    return {path.relative_to(SCRIPTS).as_posix() for path in code_files(SCRIPTS / script, SCRIPTS)}


def plan(workdir, *overlays):
    done = snakemake(workdir, *TINY, "base.yaml", *overlays, "-n")
    return planned_jobs(done.stdout, ("model", "seed")), done.stdout


def assert_plan(workdir, expected, *overlays):
    jobs, output = plan(workdir, *overlays)
    reasons = output.split("Reasons:")[-1] if "Reasons:" in output else output[-3000:]
    assert jobs == expected, (
        f"unexpected: {sorted(jobs - expected)}, missing: "
        + str(sorted(expected - jobs))
        + f"\n{reasons}"
    )


@pytest.fixture(scope="module")
def study(tiny_run, tmp_path_factory):
    """The tiny study in a folder of its own, then seed 1 of one model added for real.

    Returns the working folder and the mtimes, before and after that run, of the
    outputs the added seed must leave alone.
    """
    workdir = tmp_path_factory.mktemp("staleness") / "wf"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    write_overlay(workdir / "base.yaml", BASE)
    kept = [
        f"results/models/{TWO_SEEDS}/seed0/checkpoint.pt",
        f"results/metrics/{TWO_SEEDS}/seed0.json",
        "results/data/cifar10.npz",
        "results/models/alexnet_scratch_keras/seed0/checkpoint.weights.h5",
    ]
    before = {path: (workdir / path).stat().st_mtime_ns for path in kept}
    snakemake(workdir, *TINY, "base.yaml")
    after = {path: (workdir / path).stat().st_mtime_ns for path in kept}
    return workdir, before, after


@pytest.fixture
def edited(study):
    """Edit a file of the study's checkout for one test; its bytes are restored after."""
    workdir = study[0]
    originals = {}

    def edit(relative, text):
        path = workdir / relative
        originals.setdefault(path, path.read_bytes())
        path.write_text(path.read_text() + text)

    yield edit
    for path, content in originals.items():
        path.write_bytes(content)


def test_adding_a_seed_for_real_trains_only_that_seed(study):
    workdir, before, after = study
    assert before == after
    metrics = [
        json.loads((workdir / f"results/metrics/{TWO_SEEDS}/seed{seed}.json").read_text())
        for seed in (0, 1)
    ]
    assert [m["seed"] for m in metrics] == [0, 1]
    assert metrics[0]["model_config"] == metrics[1]["model_config"]  # one recipe, two seeds


def test_nothing_changed_reruns_nothing(study):
    assert_plan(study[0], set())


def test_adding_a_seed_reruns_that_seed_only(study):
    model = "alexnet_scratch_keras"
    overlay = write_overlay(study[0] / "seed.yaml", {"models": {model: {"seeds": [0, 1]}}})
    assert_plan(
        study[0], {f"train_keras {model} 1", f"evaluate_keras {model} 1"} | TAIL, overlay.name
    )


def test_a_learning_rate_reruns_that_model_for_every_seed(study):
    changed = {"models": {TWO_SEEDS: {"optimizer": {"lr": 0.01}}}}
    overlay = write_overlay(study[0] / "lr.yaml", changed)
    expected = {f"{step}_pytorch {TWO_SEEDS} {s}" for step in ("train", "evaluate") for s in (0, 1)}
    assert_plan(study[0], expected | TAIL, overlay.name)


def test_a_test_time_shift_rescores_every_model_without_retraining(study):
    overlay = write_overlay(study[0] / "shift.yaml", {"evaluation": {"test_time_shift": 1}})
    rescored = {job for job in PYTORCH | KERAS if job.startswith("evaluate_")}
    assert_plan(study[0], rescored | TAIL, overlay.name)


def test_one_models_test_time_views_rescore_that_model_only(study):
    model = "alexnet_scratch_keras"
    changed = {"models": {model: {"test_time_shift": 1, "test_time_flip": False}}}
    overlay = write_overlay(study[0] / "model-views.yaml", changed)
    assert_plan(study[0], {f"evaluate_keras {model} 0"} | TAIL, overlay.name)


def test_restated_defaults_and_key_order_rerun_nothing(study):
    restated = {
        "models": {
            TWO_SEEDS: {
                "label_smoothing": 0.1,
                "deterministic": None,
                "enabled": True,
                "test_time_shift": None,
            },
            "mobilenetv2_pretrained_keras": {
                "fine_tune": {"layers": 20, "lr": 0.0001, "epochs": 1}
            },
        },
        "data": {"split_seed": 0},
        "evaluation": {"test_time_shift": 2},  # config.yaml's
        "weights": {"allow_unofficial": True},
    }
    overlay = write_overlay(study[0] / "restated.yaml", restated)
    assert_plan(study[0], set(), overlay.name)


def test_an_offline_copy_of_the_archive_with_the_same_md5_reruns_nothing(study, test_inputs):
    copy = study[0].parent / "offline" / "cifar-10-python.tar.gz"
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(test_inputs["archive"], copy)
    overlay = write_overlay(study[0] / "offline.yaml", {"data": {"url": f"file://{copy}"}})
    assert_plan(study[0], set(), overlay.name)


def test_disabling_a_model_reruns_only_the_summary_and_report(study):
    disabled = {"models": {"alexnet_pretrained_pytorch": {"enabled": False}}}
    overlay = write_overlay(study[0] / "disabled.yaml", disabled)
    assert_plan(study[0], TAIL, overlay.name)


def test_a_pytorch_only_module_reruns_the_pytorch_jobs(study, edited):
    module = "cifar_compare/pytorch/train.py"
    assert module in code_files_of("train_torch.py") and module in code_files_of(
        "evaluate_torch.py"
    )
    assert all(module not in code_files_of(s) for s in ("train_keras.py", "evaluate_keras.py"))
    edited(f"workflow/scripts/{module}", "\n\ndef staleness_probe():\n    return 1\n")
    assert_plan(study[0], PYTORCH | TAIL)


def test_a_keras_only_module_reruns_the_keras_jobs(study, edited):
    module = "cifar_compare/keras/train.py"
    assert all(module in code_files_of(s) for s in ("train_keras.py", "evaluate_keras.py"))
    assert all(module not in code_files_of(s) for s in ("train_torch.py", "evaluate_torch.py"))
    edited(f"workflow/scripts/{module}", "\n\nSTALENESS_PROBE = 1\n")
    assert_plan(study[0], KERAS | TAIL)


def test_the_report_template_reruns_the_report_only(study, edited):
    edited("workflow/report/report.html.j2", "<!-- a changed template -->\n")
    assert_plan(study[0], {"report"})


def test_report_code_reruns_the_report_only(study, edited):
    module = "cifar_compare/report/context.py"
    assert module in code_files_of("render_report.py") and module not in code_files_of("plots.py")
    edited(f"workflow/scripts/{module}", "\n\nSTALENESS_PROBE = 1\n")
    assert_plan(study[0], {"report"})


def test_a_checkout_that_only_touches_files_reruns_nothing(study):
    """`git checkout` rewrites files with their old contents: only mtimes change."""
    workdir = study[0]
    code = [workdir / "Snakefile", *workdir.glob("workflow/**/*"), *workdir.glob("config/*")]
    stamps = {path: path.stat() for path in code if path.is_file()}
    now = time.time()
    try:
        for path in stamps:
            os.utime(path, (now, now))
        assert_plan(workdir, set())
    finally:
        for path, stat in stamps.items():
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_moved_checkout_reruns_nothing(study, tmp_path):
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(study[0], moved, symlinks=True)
    assert_plan(moved, set())


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_every_profile_judges_code_by_content_not_mtime(profile):
    settings = yaml.safe_load((REPO / f"profiles/{profile}/config.yaml").read_text())
    assert settings["rerun-triggers"] == ["mtime", "params", "input", "software-env"]


def test_every_script_rule_passes_the_code_digest_of_its_own_script():
    for rules in (REPO / "workflow/rules").glob("*.smk"):
        for block in re.split(r"^rule ", rules.read_text(), flags=re.M)[1:]:
            script = re.search(r'script:\s+"\.\./scripts/([\w.]+)"', block)
            if script:
                assert f'code=script_code("{script[1]}")' in block, block.split(":")[0]
