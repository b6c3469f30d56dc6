"""The recipe options both frameworks share: no validation split, test-time views,
the BatchNorm mode, Keras' coupled L2 and its dropped partial batch."""

from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
from cifar_compare import evaluation, metrics
from cifar_compare.data.dataset import load_prepared, make_splits, save_prepared
from cifar_compare.epochs import epoch_line, epoch_row, steps_per_epoch, write_history
from cifar_compare.keras import train as keras_train
from cifar_compare.metrics import softmax, softmax_averaged
from cifar_compare.recipe import batch_norm_mode
from test_dataset import SETTINGS, fake_data


def test_validation_fraction_0_trains_on_every_image(tmp_path):
    splits = make_splits(*fake_data(), {**SETTINGS, "validation_fraction": 0}, 10)
    assert len(splits["train"]) == 100 and len(splits["val"]) == 0
    assert splits["val"].images.shape == (0, 32, 32, 3)
    save_prepared(tmp_path / "prepared.npz", splits, [str(i) for i in range(10)])
    loaded, _ = load_prepared(tmp_path / "prepared.npz", ("train", "val"))
    assert len(loaded["val"]) == 0 and len(loaded["train"]) == 100


def history_row(epoch, val_loss, val_accuracy):
    return {
        "epoch": epoch,
        "train_loss": 1.5,
        "train_accuracy": 0.4,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "epoch_seconds": 2.0,
        "images_per_second": 50.0,
    }


def test_without_validation_the_history_has_empty_val_columns(tmp_path):
    row = epoch_row(1, (1.5, 0.4), None, 2.0, 100, 0.1)  # the loop's call without a split
    assert row["val_loss"] is None and row["val_accuracy"] is None
    rows = [history_row(1, None, None), history_row(2, None, None)]
    assert "val" not in epoch_line(rows[0], 2)
    write_history(tmp_path / "history.csv", rows)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["val_loss"].isna().all() and history["val_accuracy"].isna().all()
    assert history["train_loss"].notna().all()


def test_learning_curves_leave_out_an_empty_validation_split():
    import matplotlib.pyplot as plt
    from cifar_compare.report.plots import band

    histories = [pd.DataFrame([history_row(1, None, None), history_row(2, None, None)])]
    _, ax = plt.subplots()
    band(ax, histories, "val_loss", "validation", 1)
    assert ax.get_lines() == []
    band(ax, histories, "train_loss", "train", 1)
    assert [line.get_label() for line in ax.get_lines()] == ["train"]
    plt.close("all")


def test_averaged_softmax_is_the_mean_of_both_softmaxes():
    rng = np.random.default_rng(0)
    logits, mirrored = rng.normal(0, 3, (5, 10)), rng.normal(0, 3, (5, 10))
    expected = (softmax(logits) + softmax(mirrored)) / 2
    np.testing.assert_allclose(softmax(softmax_averaged([logits, mirrored])), expected, rtol=1e-12)
    extreme = softmax_averaged([np.array([[1000.0, 0.0]]), np.array([[0.0, 1000.0]])])
    np.testing.assert_allclose(softmax(extreme), [[0.5, 0.5]])  # no overflow or underflow


def test_test_time_predictions_average_with_the_mirror_image():
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    seen = []

    def predict(batch):
        seen.append(np.array(batch))
        return batch.reshape(len(batch), -1)[:, :10].astype(np.float64)

    plain, _ = metrics.test_time_predictions(predict, images, flip=False)
    assert plain.dtype == np.float32 and len(seen) == 1
    np.testing.assert_array_equal(plain, predict(images))
    seen.clear()
    flipped, _ = metrics.test_time_predictions(predict, images, flip=True)
    assert np.array_equal(seen[0], images) and np.array_equal(seen[1], images[:, :, ::-1])
    expected = softmax_averaged([predict(images), predict(images[:, :, ::-1])])
    np.testing.assert_allclose(flipped, expected, rtol=1e-6)
    # both passes as float32 logits, whatever predict returns, and float32 out
    assert flipped.dtype == np.float32
    as_float32 = [predict(batch).astype(np.float32) for batch in (images, images[:, :, ::-1])]
    np.testing.assert_array_equal(flipped, softmax_averaged(as_float32).astype(np.float32))


def test_test_time_predictions_average_every_shifted_view():
    """shift 1 without the flip: the image and its four 1-pixel moves, in that order,
    their softmaxes averaged (not their logits)."""
    images = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    seen = []

    def predict(batch):
        seen.append(np.array(batch))
        return batch.reshape(len(batch), -1)[:, :10].astype(np.float64) / 20.0

    found, _ = metrics.test_time_predictions(predict, images, flip=False, shift=1)
    moves = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
    expected_views = [metrics.shifted(images, dy, dx) for dy, dx in moves]
    assert len(seen) == 5
    for view, expected in zip(seen, expected_views, strict=True):
        np.testing.assert_array_equal(view, expected)
    mean = sum(softmax(predict(v)) for v in expected_views) / 5
    np.testing.assert_allclose(softmax(found.astype(np.float64)), mean, rtol=1e-5)


class CountingAdapter:
    """A framework adapter whose model is a fixed linear map; it keeps every batch."""

    def __init__(self):
        self.batches = []
        self.weights = np.random.default_rng(2).normal(size=(32 * 32 * 3, 10)) / 3000.0

    def start(self, config, threads, precision):
        return "cpu"

    def load(self, record, inputs):
        return None

    def predict(self, model, batch):
        self.batches.append(np.array(batch))
        return batch.reshape(len(batch), -1).astype(np.float64) @ self.weights

    def layers(self, model):
        return {"total": 1, "trainable": 1}, []


def test_evaluate_scores_the_views_of_the_models_own_policy(tmp_path):
    """The model's policy (flip, 2-pixel shifts), not the study's (no shifts), picks the
    views; both are recorded."""
    splits = make_splits(*fake_data(), {**SETTINGS, "validation_fraction": 0}, 10)
    save_prepared(tmp_path / "prepared.npz", splits, [str(i) for i in range(10)])
    adapter = CountingAdapter()
    record = {"model_config": {"batch_size": 4}, "train_summary": {}}
    found, _ = evaluation.evaluate(
        adapter,
        record,
        SimpleNamespace(prepared=tmp_path / "prepared.npz"),
        1,
        "0" * 32,
        {"test_time_flip": True, "test_time_shift": 2},
        {"test_time_flip": True, "test_time_shift": 0},
    )
    images = load_prepared(tmp_path / "prepared.npz", ("test",))[0]["test"].images
    views = list(metrics.evaluation_views(images, True, 2))
    assert len(adapter.batches) == 1 + 10  # the untimed warm-up, then each view once
    for seen, view in zip(adapter.batches[1:], views, strict=True):
        np.testing.assert_array_equal(seen, view)
    expected = softmax_averaged([adapter.predict(None, v) for v in views]).argmax(1)
    labels = load_prepared(tmp_path / "prepared.npz", ("test",))[0]["test"].labels
    assert found["test_accuracy"] == pytest.approx((expected == labels).mean())
    assert (found["test_time_flip"], found["test_time_shift"]) == (True, 2)
    assert (found["study_test_time_flip"], found["study_test_time_shift"]) == (True, 0)


def test_inference_is_timed_on_the_plain_pass_only(monkeypatch):
    """With the flip on, the mirrored pass is not in the throughput (a clock that each
    prediction moves by one second, so no wall time is measured)."""
    clock = [0.0]
    monkeypatch.setattr(metrics.time, "perf_counter", lambda: clock[0])

    def predict(batch):
        clock[0] += 1.0
        return batch.reshape(len(batch), -1)[:, :10].astype(np.float32)

    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    for flip, shift in ((False, 0), (True, 0), (True, 2)):
        _, seconds = metrics.test_time_predictions(predict, images, flip, shift)
        assert seconds == 1.0


@pytest.mark.parametrize(
    "entry, mode",
    [
        ({"pretrained": True}, "frozen"),
        ({"pretrained": False}, "train"),
        ({"pretrained": True, "batch_norm": None}, "frozen"),
        ({"pretrained": True, "batch_norm": "train"}, "train"),
        ({"pretrained": False, "batch_norm": "frozen"}, "frozen"),
    ],
)
def test_batch_norm_mode_defaults_by_pretraining(entry, mode):
    assert batch_norm_mode(entry) == mode


def test_keras_coupled_l2_is_sgd_with_l2_on_weights_only():
    """One SGD step: weight - lr * (gradient + l2 * weight) for a kernel (as
    torch.optim.SGD's weight_decay), weight - lr * gradient for a bias vector."""
    lr, l2 = 0.1, 0.01
    kernel = keras.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32))
    bias = keras.Variable(np.array([1.0, -1.0], np.float32))
    gradients = [np.full((2, 2), 0.2, np.float32), np.array([0.3, -0.3], np.float32)]
    optimizer = keras_train.SGDWithL2(lr, l2=l2, momentum=0.0, nesterov=False)
    optimizer.apply(gradients, [kernel, bias])
    start = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(kernel.numpy(), start - lr * (0.2 + l2 * start), rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), [1.0 - lr * 0.3, -1.0 + lr * 0.3], rtol=1e-6)


def test_keras_drops_the_last_partial_batch():
    """20 images in batches of 8: two steps of 8, as PyTorch's drop_last."""
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    x = keras.layers.Flatten()(keras.ops.cast(inputs, "float32") / 255.0)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True))

    class Steps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.done = []

        def on_train_batch_end(self, batch, logs=None):
            self.done.append(batch)

    images = np.zeros((20, 32, 32, 3), np.uint8)
    labels = np.arange(20) % 10
    counter = Steps()
    keras_train.train_epoch(model, (images, labels), 8, 1, [counter])
    assert counter.done == [0, 1]  # steps 0 and 1; the 4 left over are not trained
    assert steps_per_epoch(20, 8) == 2 and steps_per_epoch(5, 8) == 1


def test_validation_accuracy_per_epoch_reaches_the_training_summary():
    from cifar_compare.training import validation_accuracy

    rows = [{"val_accuracy": 0.41}, {"val_accuracy": 0.52}]
    assert validation_accuracy(rows) == [0.41, 0.52]
    assert validation_accuracy([{"val_accuracy": None}] * 2) is None  # no validation split
