"""A study's results written by hand (no training): metrics JSONs with chosen per-image
predictions, histories, benchmarks and plots, and the report rendered from them."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.fileio import write_json_atomic
from cifar_compare.metrics import calibration, encode_labels

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "workflow" / "report"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TEST_IMAGES = 1000
LABELS = np.arange(TEST_IMAGES) % 10
UNOFFICIAL_MD5 = "0123456789abcdef0123456789abcdef"
# model -> (framework, architecture, pretrained, input size, right-answer ranges)
MODELS = {
    "alexnet_scratch_pytorch": ("pytorch", "alexnet_cifar", False, 32, [(0, 680), (900, 920)]),
    "alexnet_pretrained_pytorch": ("pytorch", "alexnet", True, 224, [(0, 830), (850, 860)]),
    "alexnet_scratch_keras": ("keras", "alexnet_cifar", False, 32, [(0, 690)]),
    "mobilenetv2_pretrained_keras": ("keras", "mobilenet_v2", True, 128, [(0, 850)]),
}


def correct_mask(ranges, shift=0):
    mask = np.zeros(TEST_IMAGES, dtype=bool)
    for start, stop in ranges:
        mask[start + shift : stop + shift] = True
    return mask


def predictions(mask):
    """Right where `mask` is set, the next class elsewhere."""
    return np.where(mask, LABELS, (LABELS + 1) % 10)


def weights_block(name, official=True, source=None):
    block = official_weights_block(name) if official else unofficial_weights_block(name)
    return {**block, "source": source} if source else block


def unofficial_weights_block(name):
    """A file with no published hash, as MobileNetV2's copied in by hand."""
    return {
        "name": f"{name}_weights",
        "file": f"{name}.bin",
        "sha256": "ef" * 32,
        "official": False,
        "official_hash": None,
        "checked_against": "no published hash and none pinned yet; a local copy cannot be verified",
    }


def official_weights_block(name):
    return {
        "name": f"{name}_weights",
        "file": f"{name}.bin",
        "sha256": "ab" * 32,
        "official": True,
        "official_hash": "7be5be79",
        "checked_against": f"sha256 published for {name}_weights",
    }


def metrics_record(
    model, seed, mask, md5, precision=None, weights_official=True, weights_source=None
):
    framework, architecture, pretrained, size, _ = MODELS[model]
    predicted = predictions(mask)
    confidence = np.where(mask, 0.9, 0.6)
    per_class = {c: float(mask[LABELS == i].mean()) for i, c in enumerate(CLASSES)}
    training = {
        "wall_seconds": 600.0 if pretrained else 100.0,
        "images_per_second": 100.0 if pretrained else 500.0,
        "peak_rss_mb": 2000.0,
        "peak_device_memory_mb": None,
        "device": "cpu (x86_64, 2 cores)" if framework == "pytorch" else "cpu",
        "train_images": 45000,
        "environment": {
            "cpu": "a test CPU",
            **dict.fromkeys(("gpu", "gpu_driver", "cuda", "cudnn")),
        },
    }
    if precision:
        training["precision"] = precision
    matrix = np.zeros((10, 10), dtype=int)
    np.add.at(matrix, (LABELS, predicted), 1)
    return {
        "model": model,
        "seed": seed,
        "framework": framework,
        "architecture": architecture,
        "test_images": TEST_IMAGES,
        "test_time_flip": False,
        "test_accuracy": float(mask.mean()),
        "test_loss": 1.0 - float(mask.mean()),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
        "class_names": CLASSES,
        "parameters": {"total": 57_000_000 if pretrained else 7_000_000, "trainable": 1},
        "inference_images_per_second": 1000.0,
        "layers": [{"type": "Linear", "output_shape": [10], "parameters": 10}],
        "training": training,
        "evaluation_device": "cpu",
        "versions": {"python": "3.11"},
        "model_config": {
            "framework": framework,
            "architecture": architecture,
            "pretrained": pretrained,
            "input_size": size,
            "epochs": 10,
            "batch_size": 128,
        },
        "weights": weights_block(model, weights_official, weights_source) if pretrained else None,
        "test_predictions": {
            "encoding": "base64 uint8",
            "predicted": encode_labels(predicted),
            "labels": encode_labels(LABELS),
        },
        "calibration": calibration(confidence, mask),
        "data": {
            "archive_md5": md5,
            "official": md5 == OFFICIAL_CIFAR10_MD5,
            "test_set_sha256": "cd" * 32,
        },
    }


def write_run(
    folder,
    md5=OFFICIAL_CIFAR10_MD5,
    shift=0,
    precision=None,
    weights_official=True,
    weights_source=None,
):
    """One seed per model; `shift` moves every model's right answers (a different run)."""
    folder = Path(folder)
    paths, histories, benchmarks = [], [], []
    for model, (*_, ranges) in MODELS.items():
        mask = correct_mask(ranges, shift)
        record = metrics_record(model, 0, mask, md5, precision, weights_official, weights_source)
        path = folder / "metrics" / model / "seed0.json"
        write_json_atomic(path, record)
        paths.append(str(path))
        history = folder / "models" / model / "seed0" / "history.csv"
        history.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "epoch": [1, 2],
                "train_loss": [2.0, 1.0],
                "val_loss": [2.1, 1.2],
                "train_accuracy": [0.3, 0.6],
                "val_accuracy": [0.3, 0.55],
            }
        ).to_csv(history, index=False)
        histories.append(str(history))
        benchmark = folder / "benchmarks" / "train" / model / "seed0.tsv"
        benchmark.parent.mkdir(parents=True, exist_ok=True)
        benchmark.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t880.2\n")
        benchmarks.append(str(benchmark))
    return paths, histories, benchmarks


def draw_plots(folder, metrics, histories):
    """Every figure, written by the plots rule's own function; returns the files."""
    from cifar_compare.fileio import read_json
    from cifar_compare.report import FIGURES
    from cifar_compare.report.plots import write_plots

    paths = {
        f"{name}_{image_format}": str(Path(folder) / "plots" / f"{name}.{image_format}")
        for name in FIGURES
        for image_format in ("png", "svg")
    }
    inputs = SimpleNamespace(
        metrics=metrics, histories=histories, original=str(REPORT / "original_study.yaml")
    )
    models = {}  # the models and seeds the records name
    for record in map(read_json, metrics):
        models.setdefault(record["model"], []).append(record["seed"])
    list(write_plots(inputs, SimpleNamespace(models=models), SimpleNamespace(**paths)))
    return list(paths.values())


def render_run(
    folder,
    md5=OFFICIAL_CIFAR10_MD5,
    baseline=None,
    precision=None,
    weights_official=True,
    urls=("file:///data/cifar.tar.gz", None),
):
    """Write a run's results under `folder` and render its report; returns (pdf, context).
    `urls`: the data's and every weights file's source as their records give them."""
    from cifar_compare.report.render import render

    folder = Path(folder)
    data_url, weights_url = urls
    metrics, histories, benchmarks = write_run(
        folder,
        md5,
        precision=precision,
        weights_official=weights_official,
        weights_source=weights_url,
    )
    provenance = folder / "download" / "cifar-10-python.provenance.json"
    write_json_atomic(provenance, {"url": data_url, "md5": md5, "bytes": 1234})
    plots_benchmark = folder / "benchmarks" / "plots.tsv"
    plots_benchmark.write_text("s\th:m:s\tmax_rss\n1.0\t0:00:01\t-\n")
    baseline_files = (
        sorted(str(p) for p in Path(baseline).glob("metrics/*/seed*.json")) if baseline else []
    )
    inputs = SimpleNamespace(
        metrics=metrics,
        original=str(REPORT / "original_study.yaml"),
        measured_spread=str(REPORT / "measured_spread.yaml"),
        benchmarks=benchmarks,
        plots_benchmark=str(plots_benchmark),
        data_provenance=str(provenance),
        baseline=baseline_files,
        plots=draw_plots(folder, metrics, histories),
        template=str(REPORT / "report.html.j2"),
        stylesheet=str(REPORT / "report.css"),
    )
    params = SimpleNamespace(
        models={m: [0] for m in MODELS},
        study={"fixture": True},
        left_out=[],
        baseline=str(baseline) if baseline else None,
    )
    outputs = SimpleNamespace(pdf=str(folder / "report.pdf"), html=str(folder / "report.html"))
    context = render(inputs, params, outputs)
    return Path(outputs.pdf), context
