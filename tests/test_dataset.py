"""Splits and the framework-neutral prepared file."""

import numpy as np
import pytest
from cifar_compare.data.dataset import load_prepared, make_splits, save_prepared

SETTINGS = {
    "validation_fraction": 0.2,
    "split_seed": 0,
    "train_per_class": None,
    "test_per_class": None,
}


def fake_data(per_class_train=10, per_class_test=4):
    y_train = np.repeat(np.arange(10), per_class_train)
    y_test = np.repeat(np.arange(10), per_class_test)
    x_train = np.arange(len(y_train))[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
    x_test = (np.arange(len(y_test)) + 7)[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
    return x_train.astype(np.uint8), y_train, x_test.astype(np.uint8), y_test


def test_validation_holdout_is_stratified_and_disjoint():
    splits = make_splits(*fake_data(), SETTINGS, 10)
    assert np.bincount(splits["val"].labels).tolist() == [2] * 10
    assert np.bincount(splits["train"].labels).tolist() == [8] * 10
    train_ids = set(splits["train"].images[:, 0, 0, 0].tolist())
    val_ids = set(splits["val"].images[:, 0, 0, 0].tolist())
    assert not train_ids & val_ids and len(train_ids | val_ids) == 100


def test_split_depends_only_on_its_seed():
    first = make_splits(*fake_data(), SETTINGS, 10)
    again = make_splits(*fake_data(), SETTINGS, 10)
    other = make_splits(*fake_data(), {**SETTINGS, "split_seed": 1}, 10)
    assert np.array_equal(first["val"].images, again["val"].images)
    assert not np.array_equal(first["val"].images, other["val"].images)


def test_subsetting_keeps_every_class():
    settings = {**SETTINGS, "train_per_class": 5, "test_per_class": 2}
    splits = make_splits(*fake_data(per_class_train=20), settings, 10)
    kept = np.bincount(splits["train"].labels, minlength=10) + np.bincount(
        splits["val"].labels, minlength=10
    )
    assert kept.tolist() == [5] * 10  # 5 of each class, split between train and val
    assert np.bincount(splits["val"].labels, minlength=10).tolist() == [1] * 10
    for name in ("train", "val"):  # each kept image is still paired with its own label
        ids = splits[name].images[:, 0, 0, 0].astype(int)
        assert np.array_equal(ids // 20, splits[name].labels)
    assert np.bincount(splits["test"].labels, minlength=10).tolist() == [2] * 10


def test_subset_larger_than_data_is_an_error():
    with pytest.raises(ValueError, match="asked for 11 examples of class 0"):
        make_splits(*fake_data(), {**SETTINGS, "train_per_class": 11}, 10)


def test_missing_class_is_an_error():
    x_train, y_train, x_test, y_test = fake_data()
    y_train[y_train == 9] = 8
    with pytest.raises(ValueError, match=r"training set: classes \[9\]"):
        make_splits(x_train, y_train, x_test, y_test, SETTINGS, 10)


def test_prepared_file_round_trip(tmp_path):
    splits = make_splits(*fake_data(), SETTINGS, 10)
    names = [f"c{i}" for i in range(10)]
    save_prepared(tmp_path / "p.npz", splits, names)
    loaded, loaded_names = load_prepared(tmp_path / "p.npz")
    assert loaded_names == names
    for name in ("train", "val", "test"):
        assert loaded[name].images.dtype == np.uint8
        assert np.array_equal(loaded[name].images, splits[name].images)
        assert np.array_equal(loaded[name].labels, splits[name].labels)
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # no temporary left behind


def test_split_that_would_be_empty_names_the_keys():
    with pytest.raises(ValueError, match=r"data.validation_fraction 0.04 .* holds out 0"):
        make_splits(*fake_data(), {**SETTINGS, "validation_fraction": 0.04}, 10)


def test_prepared_file_records_the_archive_md5(tmp_path):
    splits = make_splits(*fake_data(), SETTINGS, 10)
    save_prepared(tmp_path / "p.npz", splits, [f"c{i}" for i in range(10)], archive_md5="ab" * 16)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        assert data["archive_md5"].tolist() == ["ab" * 16]
    save_prepared(tmp_path / "q.npz", splits, [f"c{i}" for i in range(10)])
    with np.load(tmp_path / "q.npz", allow_pickle=False) as data:
        assert "archive_md5" not in data.files
