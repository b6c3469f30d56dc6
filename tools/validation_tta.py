"""Validation accuracy of trained tuning candidates under test-time views, for the
tuning log (docs/results/tuning-log.md): plain, with the mirror image (the pipeline's
test_time_flip) and with the mirror plus shifted copies. Scores the validation split of
the prepared data only; the test set is never read.

    python tools/validation_tta.py RESULTS_DIR MODEL [MODEL ...]

RESULTS_DIR holds data/cifar10.npz and models/MODEL/seed0/checkpoint.pt (PyTorch
candidates: the tuning rounds train in PyTorch).
"""

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cifar_compare.metrics import evaluation_views, softmax_averaged  # noqa: E402

SHIFTS = (1, 2)  # pixels; each adds the four one-axis shifts of the image and its mirror


def averaged_accuracy(logits_per_view, labels):
    """Accuracy of the mean of the views' softmaxes (as the pipeline's evaluation)."""
    return float((softmax_averaged(logits_per_view).argmax(axis=1) == labels).mean())


def accuracies(predict, images, labels):
    """{view set: validation accuracy} for plain, flip and flip + each of SHIFTS; each
    view is predicted once (the image and its mirror are in every set)."""
    centre = [predict(v) for v in evaluation_views(images, True)]
    result = {
        "plain": averaged_accuracy(centre[:1], labels),
        "flip": averaged_accuracy(centre, labels),
    }
    for shift in SHIFTS:
        moved = [predict(v) for v in list(evaluation_views(images, True, shift))[2:]]
        result[f"flip + {shift} px shifts"] = averaged_accuracy(centre + moved, labels)
    return result


def candidate_predict(checkpoint):
    from cifar_compare.pytorch.adapter import PyTorch

    adapter, inputs = PyTorch(), SimpleNamespace(checkpoint=checkpoint)
    record = adapter.read_record(inputs)
    adapter.start(record["model_config"], None, record["train_summary"].get("precision", "fp32"))
    model = adapter.load(record, inputs)
    return lambda images: adapter.predict(model, np.ascontiguousarray(images))


def main():
    from cifar_compare.data.dataset import load_prepared

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    splits, _ = load_prepared(args.results / "data" / "cifar10.npz", ("val",))
    images, labels = splits["val"].images, splits["val"].labels
    names = ["plain", "flip", *(f"flip + {s} px shifts" for s in SHIFTS)]
    print(f"| candidate ({len(labels):,} validation images) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for model in args.models:
        checkpoint = args.results / "models" / model / "seed0" / "checkpoint.pt"
        scores = accuracies(candidate_predict(checkpoint), images, labels)
        print(f"| `{model}` | " + " | ".join(f"{100 * scores[n]:.2f} %" for n in names) + " |")


if __name__ == "__main__":
    main()
