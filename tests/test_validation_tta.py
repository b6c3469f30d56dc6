"""tools/validation_tta.py: each view set's averaged accuracy, by hand (the views
themselves: tests/test_metrics_by_hand.py)."""

import importlib.util
from pathlib import Path

import numpy as np
from cifar_compare.metrics import shifted

TOOL = Path(__file__).resolve().parents[1] / "tools" / "validation_tta.py"


def validation_tta():
    spec = importlib.util.spec_from_file_location("validation_tta", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_views_softmaxes_are_averaged_not_their_logits():
    """Softmaxes (1, 0), (0.12, 0.88) and (0.12, 0.88) average to 0.41 for class 0, so
    class 1 wins; the mean logits (3.3, 1.3) would pick class 0."""
    tool = validation_tta()
    logits = [np.array([[10.0, 0.0]]), np.array([[0.0, 2.0]]), np.array([[0.0, 2.0]])]
    assert tool.averaged_accuracy(logits, np.array([1])) == 1.0
    assert tool.averaged_accuracy(logits[:1], np.array([1])) == 0.0


def test_accuracies_score_each_view_set():
    """Each score is the averaged accuracy of the views listed by hand, with a random
    linear model whose answers change under mirroring and shifting."""
    tool = validation_tta()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 6, 6, 3), dtype=np.uint8)
    weights = rng.normal(size=(6 * 6 * 3, 10))

    def predict(batch):
        return batch.reshape(len(batch), -1).astype(np.float64) @ weights / 500.0

    labels = predict(images).argmax(axis=1)  # plain views score 100 %

    def score(view_list):
        return tool.averaged_accuracy([predict(v) for v in view_list], labels)

    mirror = images[:, :, ::-1]
    by_hand = {"plain": score([images]), "flip": score([images, mirror])}
    for s in (1, 2):
        moved = [shifted(images, dy, dx) for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s))]
        by_hand[f"flip + {s} px shifts"] = score(
            [images, mirror] + [v for m in moved for v in (m, m[:, :, ::-1])]
        )
    assert tool.accuracies(predict, images, labels) == by_hand
    assert by_hand["plain"] == 1.0 and len(set(by_hand.values())) > 2  # views matter
