"""Framework-neutral test-set metrics and the metrics record written per model and seed."""

import base64
import hashlib
import json
import time
from pathlib import Path

import jsonschema
import numpy as np

from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.messages import clip, one_line

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "metrics.schema.json"
CALIBRATION_BINS = 15
MAX_FILE_BYTES = 8 * 2**20  # a real metrics file has under 200 kB


def encode_labels(labels):
    """Class indices (0-255) as base64 of one uint8 per image, in test-set order."""
    return base64.b64encode(np.asarray(labels, dtype=np.uint8).tobytes()).decode("ascii")


def decode_labels(text):
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8)


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def calibration(confidence, correct, bins=CALIBRATION_BINS):
    """Reliability bins of the top softmax probability and the expected calibration error.

    Equal-width bins over [0, 1]; ECE is the image-weighted mean of
    |accuracy - mean confidence| over the bins.
    """
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(index, weights=correct.astype(float), minlength=bins)
    filled = np.maximum(counts, 1)
    gaps = np.abs(correct_sum - conf_sum)  # count * |accuracy - confidence| per bin
    return {
        "bins": bins,
        "count": counts.tolist(),
        "mean_confidence": (conf_sum / filled).round(6).tolist(),
        "accuracy": (correct_sum / filled).round(6).tolist(),
        "ece": float(gaps.sum() / len(confidence)),
    }


def prediction_metrics(labels, logits, class_names):
    """Accuracy (overall, per class), the confusion matrix (rows true classes, columns
    predicted ones), the loss, the per-image predictions (for paired tests and
    bootstraps) and the calibration of float32 `logits` for the test set's `labels`."""
    labels, predicted = np.asarray(labels), logits.argmax(1)
    matrix = np.zeros((len(class_names), len(class_names)), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    probabilities = softmax(np.asarray(logits, dtype=np.float64))
    return {
        "test_images": int(len(labels)),
        "test_accuracy": float((labels == predicted).mean()),
        "per_class_accuracy": dict(zip(class_names, per_class.round(6).tolist(), strict=True)),
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
        "test_loss": softmax_cross_entropy(logits, labels),
        "test_predictions": {
            "encoding": "base64 uint8, one class index per test image in test-set order",
            "predicted": encode_labels(predicted),
            "labels": encode_labels(labels),
        },
        "calibration": calibration(probabilities.max(1), predicted == labels),
    }


def data_provenance(archive_md5, images, labels):
    """Which archive the test set came from, and a fingerprint of the test set itself."""
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(np.asarray(labels, dtype=np.int64).tobytes())
    return {
        "archive_md5": archive_md5,
        "official": archive_md5 == OFFICIAL_CIFAR10_MD5,
        "test_set_sha256": digest.hexdigest(),
    }


def metrics_record(metrics, record, framework, evaluation_device, versions):
    """The metrics file: test-set metrics plus what the training checkpoint recorded."""
    return {
        "model": record["model_name"],
        "seed": record["seed"],
        "framework": framework,
        "architecture": record["architecture"],
        **metrics,
        "training": record["train_summary"],
        "evaluation_device": evaluation_device,
        "versions": versions,
        "training_versions": record["versions"],
        "model_config": record["model_config"],
        "weights": record["weights"],
    }


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_averaged(logits_per_view):
    """Logits whose softmax is the mean of the views' softmaxes (the log of the mean,
    computed without underflow): test-time augmentation averages probabilities."""
    log_probs = np.stack([log_softmax(np.asarray(z, dtype=np.float64)) for z in logits_per_view])
    return np.logaddexp.reduce(log_probs, axis=0) - np.log(len(log_probs))


def shifted(images, dy, dx):
    """uint8 NHWC images moved dy rows down and dx columns right, the uncovered border
    zero-filled as the training crops' padding is."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    out[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = images[
        :, max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return out


def view_count(flip, shift):
    """How many passes over the test set evaluation_views makes."""
    return (5 if shift else 1) * (2 if flip else 1)


def evaluation_views(images, flip, shift=0):
    """The image first, then its four one-axis shifts by `shift` pixels (none at 0), each
    followed by its mirror image under `flip`: uint8 NHWC, so the same in both frameworks."""
    moves = [(0, 0)] + ([(-shift, 0), (shift, 0), (0, -shift), (0, shift)] if shift else [])
    for dy, dx in moves:
        view = images if (dy, dx) == (0, 0) else shifted(images, dy, dx)
        yield view
        if flip:
            yield view[:, :, ::-1]


def test_time_predictions(predict, images, flip, shift=0):
    """(float32 numpy logits of `images`, their softmax averaged over evaluation_views;
    seconds of the plain pass alone). Throughput is timed on one pass, so that it means
    the same whatever the views."""
    views = evaluation_views(images, flip, shift)
    start = time.perf_counter()
    logits = [np.asarray(predict(next(views)), dtype=np.float32)]
    seconds = time.perf_counter() - start
    logits += [np.asarray(predict(view), dtype=np.float32) for view in views]
    if len(logits) == 1:
        return logits[0], seconds
    return softmax_averaged(logits).astype(np.float32), seconds


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels under softmax(logits), computed stably."""
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean())


def validate_metrics(record):
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(record, schema)
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        # jsonschema's message starts with the value: a whole record where the top level fails
        message = (
            error.message
            if len(error.message) <= 200
            else (f"fails {error.validator}: {clip(repr(error.validator_value), 100)}")
        )
        raise ValueError(f"metrics record invalid at {where}: {message}") from None


def read_metrics_file(path):
    """Another run's metrics file (a baseline's), once it is JSON of at most MAX_FILE_BYTES
    that the metrics schema accepts; ValueError naming the file otherwise."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
        record = json.loads(path.read_text(encoding="utf-8"))
        validate_metrics(record)
    except (OSError, ValueError, RecursionError) as error:
        raise ValueError(f"metrics file {clip(path, 200)}: {one_line(error, 300)}") from None
    return record
