"""tools/validation_tta.py: the test-time views and their averaged accuracy, by hand."""

import importlib.util
from pathlib import Path

import numpy as np

TOOL = Path(__file__).resolve().parents[1] / "tools" / "validation_tta.py"


def validation_tta():
    spec = importlib.util.spec_from_file_location("validation_tta", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMAGE = np.arange(1, 10, dtype=np.uint8).reshape(1, 3, 3, 1)  # rows 1 2 3 / 4 5 6 / 7 8 9


def test_a_shift_moves_pixels_and_zero_fills_the_border():
    tool = validation_tta()
    down = tool.shifted(IMAGE, 1, 0)[0, :, :, 0]
    np.testing.assert_array_equal(down, [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    left = tool.shifted(IMAGE, 0, -1)[0, :, :, 0]
    np.testing.assert_array_equal(left, [[2, 3, 0], [5, 6, 0], [8, 9, 0]])
    up_right = tool.shifted(IMAGE, -2, 1)[0, :, :, 0]
    np.testing.assert_array_equal(up_right, [[0, 7, 8], [0, 0, 0], [0, 0, 0]])


def test_views_are_the_image_its_shifts_and_their_mirrors():
    tool = validation_tta()
    assert len(list(tool.views(IMAGE, flip=False))) == 1
    assert len(list(tool.views(IMAGE, flip=True))) == 2
    views = list(tool.views(IMAGE, flip=True, shift=1))
    assert len(views) == 10
    np.testing.assert_array_equal(views[1], IMAGE[:, :, ::-1])
    np.testing.assert_array_equal(views[2], tool.shifted(IMAGE, -1, 0))
    np.testing.assert_array_equal(views[3], tool.shifted(IMAGE, -1, 0)[:, :, ::-1])
    np.testing.assert_array_equal(views[9], tool.shifted(IMAGE, 0, 1)[:, :, ::-1])


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
        moved = [tool.shifted(images, dy, dx) for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s))]
        by_hand[f"flip + {s} px shifts"] = score(
            [images, mirror] + [v for m in moved for v in (m, m[:, :, ::-1])]
        )
    assert tool.accuracies(predict, images, labels) == by_hand
    assert by_hand["plain"] == 1.0 and len(set(by_hand.values())) > 2  # views matter
