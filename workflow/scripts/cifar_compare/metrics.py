"""Framework-neutral test-set metrics and the metrics record written per model and seed."""

import json
from pathlib import Path

import jsonschema
import numpy as np

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "metrics.schema.json"


def confusion_matrix(labels, predictions, num_classes):
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def classification_metrics(labels, predictions, class_names):
    matrix = confusion_matrix(labels, predictions, len(class_names))
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {
        "test_images": int(len(labels)),
        "test_accuracy": float((labels == predictions).mean()),
        "per_class_accuracy": dict(zip(class_names, per_class.round(6).tolist(), strict=True)),
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
    }


def layer_records(rows):
    """(type, output shape, parameters) rows as the metrics file's `layers` list."""
    return [
        {"type": kind, "output_shape": list(shape), "parameters": params}
        for kind, shape, params in rows
    ]


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


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels under softmax(logits), computed stably."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def validate_metrics(record):
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(record, schema)
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ValueError(f"metrics record invalid at {where}: {error.message}") from None
