"""Test-set metrics of hand-worked logits: every expected number is worked out here.

Each image's logits are the logs of probabilities chosen by hand, plus an offset per
image (softmax ignores it), so the softmax, the prediction, the loss and the calibration
bin of each image can be read off the table below.
"""

import hashlib
import json
import math

import numpy as np
import pytest
from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.metrics import (
    data_provenance,
    decode_labels,
    evaluation_views,
    metrics_record,
    prediction_metrics,
    shifted,
    softmax,
    softmax_averaged,
    softmax_cross_entropy,
    view_count,
)

CLASSES = ["a", "b", "c", "d"]  # no image is of class d, and none is predicted d
# (label, softmax probabilities of a, b, c, d); the prediction is the largest probability
IMAGES = [
    (0, [0.70, 0.15, 0.10, 0.05]),  # predicted a: right, confidence 0.70 (bin 10 of 15)
    (1, [0.03, 0.90, 0.03, 0.04]),  # predicted b: right, confidence 0.90 (bin 13)
    (2, [0.50, 0.20, 0.25, 0.05]),  # predicted a: wrong, confidence 0.50 (bin 7)
    (2, [0.15, 0.10, 0.70, 0.05]),  # predicted c: right, confidence 0.70 (bin 10)
    (0, [0.25, 0.45, 0.20, 0.10]),  # predicted b: wrong, confidence 0.45 (bin 6)
]
OFFSETS = [0.0, 40.0, -7.5, 3.0, 12.0]


def hand_logits():
    labels = np.array([label for label, _ in IMAGES])
    probabilities = np.array([p for _, p in IMAGES])
    return labels, np.log(probabilities) + np.array(OFFSETS)[:, None]


def test_accuracy_per_class_accuracy_and_confusion_matrix_by_hand():
    labels, logits = hand_logits()
    found = prediction_metrics(labels, logits, CLASSES)
    assert found["test_images"] == 5
    assert found["test_accuracy"] == pytest.approx(3 / 5)  # images 0, 1 and 3
    # rows: true class; columns: predicted class
    assert found["confusion_matrix"] == [
        [1, 1, 0, 0],  # a: image 0 right, image 4 taken for b
        [0, 1, 0, 0],  # b: image 1 right
        [1, 0, 1, 0],  # c: image 2 taken for a, image 3 right
        [0, 0, 0, 0],  # d: no images
    ]
    assert found["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 0.5, "d": 0.0}
    # counts, written to the metrics file as integers
    assert json.dumps(found["confusion_matrix"]) == (
        "[[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]"
    )
    assert found["class_names"] == CLASSES
    predictions = found["test_predictions"]
    assert predictions["encoding"].startswith("base64 uint8")
    assert decode_labels(predictions["predicted"]).tolist() == [0, 1, 0, 2, 1]
    assert decode_labels(predictions["labels"]).tolist() == [0, 1, 2, 2, 0]


def test_loss_is_the_mean_negative_log_probability_of_the_true_class():
    labels, logits = hand_logits()
    # the true class's probabilities: 0.70, 0.90, 0.25, 0.70, 0.25
    expected = -(2 * math.log(0.70) + math.log(0.90) + 2 * math.log(0.25)) / 5
    assert softmax_cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-12)
    assert prediction_metrics(labels, logits, CLASSES)["test_loss"] == pytest.approx(
        expected, rel=1e-12
    )


def test_loss_is_finite_for_logits_far_apart():
    """-log softmax of [1000, 0] is log(1 + e^-1000) = 0 (to double precision) for class 0
    and 1000 + log(1 + e^-1000) = 1000 for class 1: no overflow to inf or nan."""
    logits = np.array([[1000.0, 0.0], [1000.0, 0.0]])
    assert softmax_cross_entropy(logits, np.array([0, 0])) == 0.0
    assert softmax_cross_entropy(logits, np.array([1, 1])) == pytest.approx(1000.0, rel=1e-15)
    assert softmax_cross_entropy(logits, np.array([0, 1])) == pytest.approx(500.0, rel=1e-15)


def test_calibration_in_fifteen_bins_by_hand():
    """Bins of width 1/15 over the top probability: 0.45 in bin 6 ([0.400, 0.467)), 0.50 in
    bin 7, 0.70 twice in bin 10 ([0.667, 0.733)), 0.90 in bin 13 ([0.867, 0.933))."""
    labels, logits = hand_logits()
    found = prediction_metrics(labels, logits, CLASSES)["calibration"]
    assert found["bins"] == 15
    count = [0] * 15
    count[6], count[7], count[10], count[13] = 1, 1, 2, 1
    assert found["count"] == count
    confidence = [0.0] * 15
    confidence[6], confidence[7], confidence[10], confidence[13] = 0.45, 0.5, 0.7, 0.9
    assert found["mean_confidence"] == pytest.approx(confidence, abs=1e-6)
    accuracy = [0.0] * 15
    accuracy[10], accuracy[13] = 1.0, 1.0  # the images in bins 6 and 7 are wrong
    assert found["accuracy"] == accuracy
    # images times |accuracy - confidence| per bin, over 5 images
    ece = (1 * 0.45 + 1 * 0.50 + 2 * 0.30 + 1 * 0.10) / 5
    assert found["ece"] == pytest.approx(ece, rel=1e-12)  # 0.33


def test_a_certain_prediction_falls_in_the_last_bin():
    """Top probability 1 / (1 + 3 e^-100), which is 1.0 in double precision: bin 14, the
    last, not a 16th bin; 0.55 falls in bin 8 ([0.533, 0.600))."""
    logits = np.array([[100.0, 0.0, 0.0, 0.0], np.log([0.55, 0.35, 0.05, 0.05])])
    found = prediction_metrics(np.array([0, 1]), logits, CLASSES)["calibration"]
    count = [0] * 15
    count[8], count[14] = 1, 1
    assert found["count"] == count
    # image 0 right at confidence 1; image 1 predicted a at 0.55, but it is b
    assert found["ece"] == pytest.approx((0.0 + 0.55) / 2, rel=1e-12)


def test_flip_averaging_averages_probabilities_not_logits():
    """The image says (0.9, 0.1), its mirror image (0.5, 0.5): the flip-averaged softmax is
    their mean (0.7, 0.3), so class 0 is predicted at confidence 0.7 and the loss of a
    class-1 label is -log 0.3. (Averaging the logits would give the normalised geometric
    mean, 0.75 / 0.25.)"""
    image, mirror = np.log([[0.9, 0.1]]), np.log([[0.5, 0.5]]) + 5.0
    averaged = softmax_averaged([image, mirror])
    np.testing.assert_allclose(averaged, np.log([[0.7, 0.3]]), rtol=1e-12)
    assert softmax_cross_entropy(averaged, np.array([1])) == pytest.approx(-math.log(0.3))
    found = prediction_metrics(np.array([1]), averaged, CLASSES[:2])
    assert found["test_accuracy"] == 0.0
    assert found["calibration"]["mean_confidence"][10] == pytest.approx(0.7)  # [0.667, 0.733)


def test_each_image_is_normalised_by_its_own_largest_logit():
    """Image 0's logits (1000, 0) give (1, e^-1000) = (1, 0) in double precision, image 1's
    (0, ln 3) give (1/4, 3/4): no overflow from 1000, and no underflow of image 1 to 0/0
    by a shift taken over the whole batch."""
    logits = np.array([[1000.0, 0.0], [0.0, math.log(3.0)]])
    np.testing.assert_allclose(softmax(logits), [[1.0, 0.0], [0.25, 0.75]], rtol=1e-12)
    expected = -(math.log(1.0) + math.log(0.75)) / 2
    assert softmax_cross_entropy(logits, np.array([0, 1])) == pytest.approx(expected, rel=1e-12)
    found = prediction_metrics(np.array([0, 1]), logits, CLASSES[:2])["calibration"]
    assert found["mean_confidence"][14] == 1.0 and found["mean_confidence"][11] == 0.75


def test_per_class_and_bin_values_are_rounded_to_six_decimals():
    """Three images of class a, confidences 0.47, 0.48 and 0.50 (all in bin 7,
    [0.467, 0.533)), only the first predicted a: a's accuracy and the bin's are 1/3, the
    bin's mean confidence 1.45 / 3; the file holds them to six decimals."""
    probabilities = [[0.47, 0.33, 0.20], [0.30, 0.48, 0.22], [0.25, 0.50, 0.25]]
    found = prediction_metrics(np.zeros(3, dtype=int), np.log(probabilities), CLASSES[:3])
    assert found["per_class_accuracy"] == {"a": 0.333333, "b": 0.0, "c": 0.0}
    assert found["calibration"]["count"][7] == 3
    assert found["calibration"]["accuracy"][7] == 0.333333
    assert found["calibration"]["mean_confidence"][7] == 0.483333
    assert found["calibration"]["ece"] == pytest.approx(abs(1 - 1.45) / 3, rel=1e-12)


def test_float32_logits_are_calibrated_in_double_precision():
    """Logits (0, 1e-7) as float32, as the frameworks give them: the top probability is
    1 / (1 + e^-x) for x the float32 nearest 1e-7, 0.500000025, which float32 arithmetic
    would round to 0.5. The image is of class a, so the ECE is that probability."""
    logits = np.array([[0.0, 1e-7]], dtype=np.float32)
    top = 1 / (1 + math.exp(-float(np.float32(1e-7))))
    found = prediction_metrics(np.array([0]), logits, CLASSES[:2])["calibration"]
    assert found["ece"] == pytest.approx(top, rel=1e-12)
    assert found["ece"] != 0.5


def test_data_provenance_fingerprints_the_images_and_int64_labels():
    """sha256 of the images' bytes in C order, then the labels' as little-endian int64,
    whatever order the images are stored in and whatever the labels' dtype."""
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    labels = np.array([3, 7], dtype=np.uint8)
    expected = hashlib.sha256(images.tobytes() + bytes([3] + [0] * 7 + [7] + [0] * 7))
    fortran = np.asfortranarray(images)
    found = data_provenance(OFFICIAL_CIFAR10_MD5, fortran, labels)
    assert found == {
        "archive_md5": OFFICIAL_CIFAR10_MD5,
        "official": True,
        "test_set_sha256": expected.hexdigest(),
    }
    other = data_provenance("0" * 32, images, [3, 7])
    assert other["official"] is False and other["test_set_sha256"] == expected.hexdigest()


def test_metrics_record_puts_the_checkpoint_record_under_its_own_keys():
    record = {
        "model_name": "alexnet_scratch_pytorch",
        "seed": 2,
        "architecture": "alexnet_cifar",
        "train_summary": {"wall_seconds": 10.0},
        "versions": {"torch": "2.0"},
        "model_config": {"epochs": 3},
        "weights": None,
        "ignored": "not copied",
    }
    metrics = {"test_accuracy": 0.5, "test_images": 4}
    found = metrics_record(metrics, record, "pytorch", "cpu", {"torch": "2.1"})
    assert found == {
        "model": "alexnet_scratch_pytorch",
        "seed": 2,
        "framework": "pytorch",
        "architecture": "alexnet_cifar",
        "test_accuracy": 0.5,
        "test_images": 4,
        "training": {"wall_seconds": 10.0},
        "evaluation_device": "cpu",
        "versions": {"torch": "2.1"},  # the evaluation's
        "training_versions": {"torch": "2.0"},
        "model_config": {"epochs": 3},
        "weights": None,
    }


IMAGE = np.arange(1, 10, dtype=np.uint8).reshape(1, 3, 3, 1)  # rows 1 2 3 / 4 5 6 / 7 8 9


def test_a_shift_moves_pixels_and_zero_fills_the_border():
    down = shifted(IMAGE, 1, 0)[0, :, :, 0]
    np.testing.assert_array_equal(down, [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    left = shifted(IMAGE, 0, -1)[0, :, :, 0]
    np.testing.assert_array_equal(left, [[2, 3, 0], [5, 6, 0], [8, 9, 0]])
    up_right = shifted(IMAGE, -2, 1)[0, :, :, 0]
    np.testing.assert_array_equal(up_right, [[0, 7, 8], [0, 0, 0], [0, 0, 0]])


def test_evaluation_views_are_the_image_its_shifts_and_their_mirrors():
    assert len(list(evaluation_views(IMAGE, flip=False))) == 1
    assert len(list(evaluation_views(IMAGE, flip=True))) == 2
    views = list(evaluation_views(IMAGE, flip=True, shift=1))
    assert len(views) == 10
    for flip in (False, True):
        for shift in (0, 1, 3):
            assert view_count(flip, shift) == len(list(evaluation_views(IMAGE, flip, shift)))
    np.testing.assert_array_equal(views[1], IMAGE[:, :, ::-1])
    np.testing.assert_array_equal(views[2], shifted(IMAGE, -1, 0))
    np.testing.assert_array_equal(views[3], shifted(IMAGE, -1, 0)[:, :, ::-1])
    np.testing.assert_array_equal(views[9], shifted(IMAGE, 0, 1)[:, :, ::-1])
