"""The learning curve's training subsets: nested, stratified, exactly sized, and cut
from the prepared file without touching its other splits."""

import numpy as np
import pytest
from cifar_compare.curve.subsets import nested_subset, write_subset
from cifar_compare.data.dataset import Split, load_prepared, save_prepared

# 10 classes of unequal size (23 to 32 images), shuffled.
LABELS = np.random.default_rng(3).permutation(np.repeat(np.arange(10), np.arange(23, 33)))
SIZES = [1, 5, 10, 23]


def per_class_counts(indices):
    return np.bincount(LABELS[indices], minlength=10).tolist()


@pytest.mark.parametrize("size", SIZES)
def test_each_subset_has_exactly_size_images_of_every_class(size):
    picked = nested_subset(LABELS, size, seed=0)
    assert per_class_counts(picked) == [size] * 10
    assert len(np.unique(picked)) == len(picked) == 10 * size
    assert np.all(np.diff(picked) > 0)  # sorted: the data keeps its stored order


def test_every_smaller_subset_lies_inside_every_larger_one():
    subsets = [set(nested_subset(LABELS, size, seed=0).tolist()) for size in SIZES]
    for smaller, larger in zip(subsets, subsets[1:], strict=False):
        assert smaller < larger


def test_the_subsets_do_not_depend_on_which_other_sizes_a_study_lists():
    alone = nested_subset(LABELS, 10, seed=0)
    nested_subset(LABELS, 5, seed=0)  # another size drawn first changes nothing
    assert np.array_equal(nested_subset(LABELS, 10, seed=0), alone)


def test_the_seed_picks_the_images_and_the_same_seed_the_same_ones():
    assert np.array_equal(nested_subset(LABELS, 5, seed=1), nested_subset(LABELS, 5, seed=1))
    assert not np.array_equal(nested_subset(LABELS, 5, seed=0), nested_subset(LABELS, 5, seed=1))


def test_a_subset_is_not_the_first_images_of_each_class():
    first = np.sort(np.concatenate([np.flatnonzero(LABELS == c)[:5] for c in range(10)]))
    assert not np.array_equal(nested_subset(LABELS, 5, seed=0), first)


def test_a_size_larger_than_a_class_names_the_key_the_class_and_its_count():
    with pytest.raises(ValueError) as error:
        nested_subset(LABELS, 24, seed=0)
    assert str(error.value).startswith(
        "learning_curve.sizes: 24 training images per class asked, but class 0 has only 23"
    )
    nested_subset(LABELS, 23, seed=0)  # the edge: every image of the smallest class


def test_write_subset_cuts_the_training_split_only(tmp_path):
    images = np.arange(len(LABELS), dtype=np.uint8)[:, None, None, None] * np.ones(
        (1, 2, 2, 3), dtype=np.uint8
    )
    splits = {
        "train": Split(images, LABELS),
        "val": Split(images[:10], LABELS[:10]),
        "test": Split(images[:20], LABELS[:20]),
    }
    source, destination = tmp_path / "all.npz", tmp_path / "n5.npz"
    save_prepared(source, splits, [f"c{i}" for i in range(10)], archive_md5="ab" * 16)
    assert write_subset(source, destination, 5, seed=0) == 50
    cut, names = load_prepared(destination)
    keep = nested_subset(LABELS, 5, seed=0)
    assert np.array_equal(cut["train"].labels, LABELS[keep])
    assert np.array_equal(cut["train"].images[:, 0, 0, 0], keep.astype(np.uint8))
    for name in ("val", "test"):
        assert np.array_equal(cut[name].images, splits[name].images)
        assert np.array_equal(cut[name].labels, splits[name].labels)
    assert names == [f"c{i}" for i in range(10)]
    with np.load(destination) as data:
        assert data["archive_md5"].tolist() == ["ab" * 16]
