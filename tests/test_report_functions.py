"""The report's pure functions: aggregation, tables, conclusions, provenance helpers."""

import ast
import copy
import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.metrics import encode_labels
from cifar_compare.report import format as fmt
from cifar_compare.report.conclusions import conclusions, weights_warnings
from cifar_compare.report.data import model_results
from cifar_compare.report.provenance import benchmark_summary, data_summary
from cifar_compare.report.render import config_hash, git_commit, report_file_path, write_pdf
from cifar_compare.report.stats import study_statistics
from cifar_compare.report.summary import to_csv, to_markdown
from cifar_compare.report.tables import (
    evaluation_policy,
    original_rows,
    precision_cell,
    probe_threshold,
    versus_original,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
ORIGINAL = {
    "epochs": 10,
    "models": {
        "alexnet_scratch_pytorch": {"accuracy_low": 70, "accuracy_high": 75, "input_size": 32},
        "alexnet_pretrained_pytorch": {"accuracy_low": 80, "accuracy_high": 85, "input_size": 224},
    },
}


def record(
    model, seed, accuracy, pretrained=False, official=True, input_size=32, framework="pytorch"
):
    weights = None
    if pretrained:
        weights = {"name": "w", "file": "w.pth", "sha256": "ab" * 32, "official": official}
    return {
        "model": model,
        "seed": seed,
        "framework": framework,
        "architecture": "alexnet" if pretrained else "alexnet_cifar",
        "test_images": 10000,
        "test_accuracy": accuracy,
        "test_loss": 1.0 - accuracy,
        "per_class_accuracy": dict.fromkeys(CLASSES, accuracy),
        "confusion_matrix": [[0] * 10 for _ in range(10)],
        "class_names": CLASSES,
        "parameters": {"total": 57_000_000 if pretrained else 7_000_000, "trainable": 1},
        "inference_images_per_second": 1000.0,
        "layers": [{"type": "Linear", "output_shape": [10], "parameters": 10}],
        "training": {
            "wall_seconds": 600.0 if pretrained else 100.0,
            "images_per_second": 100.0 if pretrained else 500.0,
            "peak_rss_mb": 2000.0 + seed,
            "peak_device_memory_mb": None,
            "device": "cpu",
            "train_images": 45000,
        },
        "evaluation_device": "cpu",
        "versions": {"python": "3.11"},
        "model_config": {"pretrained": pretrained, "input_size": input_size, "epochs": 10},
        "weights": weights,
        "test_predictions": predictions(accuracy),
        "data": {"archive_md5": OFFICIAL_CIFAR10_MD5, "official": True},
    }


def predictions(accuracy, images=1000):
    """The first `accuracy` share of `images` test images right, the rest wrong."""
    labels = [i % 10 for i in range(images)]
    right = round(accuracy * images)
    predicted = labels[:right] + [(label + 1) % 10 for label in labels[right:]]
    return {
        "encoding": "base64 uint8",
        "predicted": encode_labels(predicted),
        "labels": encode_labels(labels),
    }


def conclude(results, original=None):
    stats = study_statistics(results) if results else None
    data = data_summary(results, {"url": "x"})
    return conclusions(results, stats, ORIGINAL if original is None else original, data)


def run(scratch=(0.72, 0.74), pretrained=(0.83, 0.85), official=True):
    records = [record("alexnet_scratch_pytorch", s, a) for s, a in enumerate(scratch)]
    records += [
        record("alexnet_pretrained_pytorch", s, a, True, official, 224)
        for s, a in enumerate(pretrained)
    ]
    configured = {
        "alexnet_scratch_pytorch": list(range(len(scratch))),
        "alexnet_pretrained_pytorch": list(range(len(pretrained))),
    }
    return model_results(records, configured)


def test_numbers_are_formatted_one_way():
    assert fmt.percent(0.7234) == "72.34"
    assert fmt.accuracy_text(0.7234, None) == "72.34"
    assert fmt.accuracy_text(0.7234, 0.0056) == "72.34 ± 0.56"
    assert fmt.size_bytes(50_000 * 3 * 224**2 * 4) == "28.0 GiB"
    assert fmt.megabytes(None) == "n/a"


def test_results_average_over_seeds_and_keep_config_order():
    scratch, pretrained = run()
    assert scratch.name == "alexnet_scratch_pytorch" and pretrained.pretrained
    assert scratch.accuracy_mean == pytest.approx(0.73)
    assert scratch.accuracy_std == pytest.approx(0.0141421, rel=1e-4)
    assert scratch.peak_rss_mb == 2001.0 and scratch.peak_device_mb is None
    (single,) = run(scratch=(0.5,), pretrained=())
    assert single.accuracy_std is None


def test_metrics_of_a_model_or_seed_not_configured_are_refused():
    records = [record("alexnet_scratch_pytorch", 0, 0.7), record("stale_model", 0, 0.9)]
    with pytest.raises(ValueError, match="stale_model seed 0"):
        model_results(records, {"alexnet_scratch_pytorch": [0]})
    with pytest.raises(ValueError, match="seed 3"):
        model_results([record("alexnet_scratch_pytorch", 3, 0.7)], {"alexnet_scratch_pytorch": [0]})


def probed(record_, precision, speedup):
    """`record_` trained in `precision` as a probe with a bf16 speedup of `speedup` decided."""
    probe = {
        "fp32_step_seconds": 1.0,
        "bf16_step_seconds": 1.0 / speedup,
        "bf16_speedup": speedup,
        "min_bf16_speedup": 1.1,
        "batch_size": 32,
        "rounds": 3,
    }
    record_["training"].update(precision=precision, precision_probe=probe)
    return record_


def test_the_precision_probe_reaches_the_tables_and_the_report_text():
    name = "alexnet_scratch_pytorch"
    records = [probed(record(name, 0, 0.7), "bf16", 1.5), probed(record(name, 1, 0.7), "bf16", 1.7)]
    records.append(record("alexnet_pretrained_pytorch", 0, 0.8, pretrained=True))
    records[2]["training"]["precision"] = "fp32"
    seeds = {name: [0, 1], "alexnet_pretrained_pytorch": [0]}
    scratch, pretrained = model_results(records, seeds)
    assert precision_cell(scratch) == "bf16 (probe 1.50–1.70×)"
    assert precision_cell(pretrained) == "fp32"  # no probe decided
    rows = list(csv.DictReader(io.StringIO(to_csv([scratch, pretrained]))))
    assert [row["bf16_probe_speedup"] for row in rows] == ["1.6", ""]
    assert "| bf16 (probe 1.50–1.70×) |" in to_markdown([scratch, pretrained])
    assert probe_threshold([scratch, pretrained]) == "1.1×"
    assert probe_threshold([pretrained]) is None


def test_summary_tables_are_written_from_the_results():
    """The tables and the report read the same ModelResults: one aggregation."""
    results = run()
    lines = to_csv(results).splitlines()
    assert lines[0].split(",")[:7] == [
        "model",
        "framework",
        "architecture",
        "pretrained",
        "input_size",
        "precision",
        "seeds",
    ]
    assert [line.split(",")[0] for line in lines[1:]] == [r.name for r in results]
    assert lines[1].split(",")[7] == repr(results[0].accuracy_mean)
    assert "| 73.00 ± 1.41 |" in to_markdown(results) and "| official |" in to_markdown(results)
    assert "| UNOFFICIAL |" in to_markdown(run(official=False))
    (single,) = run(scratch=(0.5,), pretrained=())
    assert to_csv([single]).splitlines()[1].split(",")[8] == ""  # no spread from one seed
    assert "| 50.00 |" in to_markdown([single]) and "| scratch |" in to_markdown([single])


def test_conclusions_are_computed_from_the_results():
    text = " ".join(conclude(run()))
    assert "alexnet_pretrained_pytorch is the most accurate model: 84.00 % (95 % interval" in text
    assert (  # the best pair is also the pretrained-against-scratch pair: said once
        "Against the runner-up, also the pair for pretrained against scratch (pytorch), "
        "alexnet_pretrained_pytorch is ahead of alexnet_scratch_pytorch by 11.00 points" in text
    )
    assert text.count("by 11.00 points") == 1
    assert "t-test over training runs and test images, Holm-adjusted p = 0.002" in text
    assert "6 times the training time of the fastest, alexnet_scratch_pytorch" in text
    assert "This run used the original study's epochs (10) and input sizes" in text
    assert "alexnet_scratch_pytorch within its range (70–75 %)" in text
    flipped = " ".join(conclude(run(scratch=(0.9, 0.9), pretrained=(0.5, 0.6))))
    # 90/90 against 50/60 over two seeds each: too few runs to tell them apart
    assert "alexnet_scratch_pytorch scored highest: 90.00 %" in flipped
    assert (
        "alexnet_scratch_pytorch and alexnet_pretrained_pytorch are not distinguishable "
        "(90.00 % against 55.00 %" in flipped
    )
    assert "15.00 points above its range" in flipped and "25.00 points below its range" in flipped


def one_seed_each(records):
    return model_results(records, {r["model"]: [r["seed"]] for r in records})


def test_a_framework_pair_that_is_also_the_runner_up_is_said_once():
    keras = record("alexnet_scratch_keras", 0, 0.72, framework="keras")
    text = " ".join(conclude(one_seed_each([record("alexnet_scratch_pytorch", 0, 0.74), keras])))
    assert (
        "Against the runner-up, also the pair for PyTorch against Keras on the same architecture "
        "(alexnet_cifar), alexnet_scratch_pytorch scored 2.00 points above alexnet_scratch_keras"
        in text
    )
    assert text.count("(74.00 % against 72.00 %") == 1


def test_pairs_asked_once_get_their_own_sentence():
    records = [
        record("alexnet_pretrained_pytorch", 0, 0.85, True, True, 224),
        record("alexnet_scratch_pytorch", 0, 0.74),
        record("alexnet_scratch_keras", 0, 0.80, framework="keras"),
    ]
    text = " ".join(conclude(one_seed_each(records)))
    assert "Against the runner-up, alexnet_pretrained_pytorch scored 5.00 points above " in text
    assert (
        "Pretrained against scratch (pytorch): alexnet_pretrained_pytorch scored 11.00 points "
        "above alexnet_scratch_pytorch" in text
    )
    assert (  # Keras ahead: the sentence still names PyTorch first, as the question does
        "PyTorch against Keras on the same architecture (alexnet_cifar): alexnet_scratch_pytorch "
        "scored 6.00 points below alexnet_scratch_keras" in text
    )
    assert "also the pair for" not in text


def test_a_different_setup_is_said_plainly():
    original = copy.deepcopy(ORIGINAL)
    original["models"]["alexnet_pretrained_pytorch"]["input_size"] = 227
    original["epochs"] = 12
    text = " ".join(conclude(run(), original))
    assert "This run did not use the original study's setup (10 epochs instead of 12" in text
    assert "224 px instead of 227 px for alexnet_pretrained_pytorch" in text


def test_a_model_absent_from_the_run_is_never_mentioned():
    results = run(pretrained=())
    sentences = conclude(results)
    assert sentences and not any("pretrained" in s for s in sentences)
    assert [row["model"] for row in original_rows(results, ORIGINAL)] == ["alexnet_scratch_pytorch"]
    assert conclude([]) == []


def test_unofficial_weights_are_called_out():
    assert not any("not the official" in s for s in conclude(run()))
    assert weights_warnings(run()) == []
    warned = [s for s in conclude(run(official=False)) if "not the official" in s]
    assert len(warned) == 1 and warned[0].startswith("alexnet_pretrained_pytorch")
    (warning,) = weights_warnings(run(official=False))
    assert warning.startswith("alexnet_pretrained_pytorch used weights that are not the official")


def test_position_against_the_original_range():
    entry = {"accuracy_low": 70, "accuracy_high": 70}
    assert versus_original(0.70, entry) == "within its range"
    assert versus_original(0.655, entry) == "4.50 points below its range"


def test_config_hash_is_canonical():
    config = {"models": {"a": {"lr": 0.1, "seeds": [0]}}, "data": {"x": 1}}
    reordered = {"data": {"x": 1}, "models": {"a": {"seeds": [0], "lr": 0.1}}}
    assert config_hash(config) == config_hash(reordered)
    changed = copy.deepcopy(config)
    changed["models"]["a"]["lr"] = 0.2
    assert config_hash(changed) != config_hash(config) and len(config_hash(config)) == 64


def test_git_commit_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) == "not a git checkout"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    assert len(git_commit(tmp_path)) == 40
    (tmp_path / "f").write_text("y")
    assert git_commit(tmp_path).endswith("(with uncommitted changes)")


def test_benchmarks_are_named_by_job(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\n"
    for name, line in (("train/m/seed0", "12.5\t0:00:12\t880.2\t1\n"), ("plots", "1.0\t0\t-\t1\n")):
        path = tmp_path / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + line)
    summary = benchmark_summary([str(tmp_path / "train/m/seed0.tsv"), str(tmp_path / "plots.tsv")])
    assert summary["rows"] == [
        {"job": "train/m/seed0", "seconds": "12.5", "max_rss_mb": "880"},
        {"job": "plots", "seconds": "1.0", "max_rss_mb": "n/a"},
    ]
    assert summary["time"]["total"] == "13.5"


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def test_report_code_imports_no_training_code():
    files = [SCRIPTS / "aggregate.py", SCRIPTS / "plots.py", SCRIPTS / "render_report.py"]
    files += sorted((SCRIPTS / "cifar_compare" / "report").glob("*.py"))
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in {"torch", "torchvision", "tensorflow", "keras"}, (path, module)
            assert not module.startswith(("cifar_compare.pytorch", "cifar_compare.keras")), path
    check = (
        "import sys, aggregate, plots, render_report; "
        "assert not {'torch', 'keras'} & set(sys.modules), sorted(sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=SCRIPTS, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_tie_for_the_best_model_is_said():
    text = " ".join(conclude(run(scratch=(0.8,), pretrained=(0.8,))))
    assert (
        "alexnet_scratch_pytorch scored highest (jointly with alexnet_pretrained_pytorch)" in text
    )
    assert (
        "alexnet_scratch_pytorch and alexnet_pretrained_pytorch are not distinguishable on "
        "these test images" in text
    )


def test_recipe_text_names_the_seeds_the_run_trained():
    """The recipe in the metrics has no seeds (docs/reruns.md): they come from the run."""
    from cifar_compare.report.tables import recipe_text

    config = {"input_size": 32, "epochs": 10, "batch_size": 128, "optimizer": {"name": "adamw"}}
    assert recipe_text(config, (0, 2)).endswith("; seeds 0, 2.")


def write_png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), "red").save(path)
    return path


def test_the_pdf_embeds_only_the_report_folders_own_files(tmp_path):
    """WeasyPrint's default fetcher would load any URL the HTML names: from the network,
    /etc/passwd, or a file beside the results. Only files inside the report's folder load."""
    from hostile_inputs import Server
    from pypdf import PdfReader

    folder = tmp_path / "results"
    write_png(folder / "plots" / "inside.png")
    outside = write_png(tmp_path / "outside.png")
    (folder / "plots" / "link.png").symlink_to(outside)  # a link leading out is out
    server = Server(lambda handler, server: handler.send_error(404))
    html = (
        f'<link rel="stylesheet" href="{server.url}"><img src="{server.url}">'
        '<img src="file:///etc/passwd"><img src="../outside.png">'
        f'<img src="{outside.as_uri()}"><img src="plots/link.png"><img src="plots/inside.png">'
    )
    try:
        write_pdf(html, folder / "report.pdf")
    finally:
        server.close()
    assert server.requests == 0
    assert len(PdfReader(folder / "report.pdf").pages[0].images) == 1  # inside.png alone
    assert report_file_path("file:///etc/passwd", folder) is None
    assert report_file_path((folder / "plots" / "inside.png").as_uri(), folder)


def scored_pair(**evaluation):
    """A scratch and a pretrained record, both with the `evaluation` fields given."""
    records = [
        record("alexnet_scratch_pytorch", 0, 0.7),
        record("alexnet_pretrained_pytorch", 0, 0.8),
    ]
    for r in records:
        r.update(evaluation)
    return records


def results_of(records):
    return model_results(records, {r["model"]: [0] for r in records})


def test_a_per_model_flip_override_is_flagged():
    results = run(scratch=(0.7,), pretrained=(0.8,))
    policy, warning = evaluation_policy(results)
    assert policy == "Every model was scored without test-time flip or shifts."
    assert warning is None
    records = scored_pair(test_time_flip=True, study_test_time_flip=True)
    records[1].update(test_time_flip=False)
    policy, warning = evaluation_policy(results_of(records))
    assert policy is None
    assert warning == (
        "Evaluation is not the same for every model: alexnet_scratch_pytorch with "
        "test-time flip; alexnet_pretrained_pytorch without test-time flip or shifts "
        "(alexnet_pretrained_pytorch overrode the study's evaluation settings); "
        "their accuracies are not scored alike."
    )


def test_a_per_model_shift_override_is_flagged_and_a_shared_one_is_named():
    views = {"test_time_flip": True, "test_time_shift": 2}
    records = scored_pair(**views, **{f"study_{key}": value for key, value in views.items()})
    assert evaluation_policy(results_of(records)) == (
        "Every model was scored with test-time flip and 2-pixel test-time shifts.",
        None,
    )
    records[1].update(test_time_shift=0)  # its own setting; the study's was 2
    policy, warning = evaluation_policy(results_of(records))
    assert policy is None
    assert warning == (
        "Evaluation is not the same for every model: alexnet_scratch_pytorch with "
        "test-time flip and 2-pixel test-time shifts; alexnet_pretrained_pytorch with "
        "test-time flip (alexnet_pretrained_pytorch overrode the study's evaluation "
        "settings); their accuracies are not scored alike."
    )
