"""Read the official `cifar-10-python.tar.gz` safely.

The archive is untrusted input: members are checked before extraction and the
pickled batches go through an unpickler that can only rebuild numpy arrays.
"""

import io
import pickle
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
META = "batches.meta"
IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10

# Everything a pickled numpy array needs, under numpy 1.x and 2.x module names.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    # Python 3 writes bytes under pickle protocol 2 as _codecs.encode(str, "latin1"):
    # it only turns a string into bytes.
    ("_codecs", "encode"),
}


class ArchiveError(ValueError):
    pass


class NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise ArchiveError(
                f"refusing to unpickle {module}.{name}: CIFAR batches may only contain "
                "numpy arrays, lists, dicts and strings"
            )
        return super().find_class(module, name)


def load_untrusted_pickle(raw, source):
    try:
        return NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except ArchiveError as error:
        raise ArchiveError(f"{source}: {error}") from None
    except Exception as error:  # any other malformed pickle
        raise ArchiveError(f"{source}: not a valid CIFAR batch pickle ({error})") from error


def check_member(member):
    """Refuse members that could escape the extraction folder or are not plain files."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise ArchiveError(f"archive member {member.name!r} escapes the target folder")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(
            f"archive member {member.name!r} is a link or device; only files are allowed"
        )


def extract_archive(archive_path, target_dir):
    """Extract after checking every member; return the batch folder."""
    target_dir = Path(target_dir)
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                check_member(member)
            archive.extractall(target_dir, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveError(f"{archive_path}: cannot read archive ({error})") from error
    batch_dir = target_dir / BATCH_DIR
    if not batch_dir.is_dir():
        raise ArchiveError(f"{archive_path}: no {BATCH_DIR}/ folder inside")
    return batch_dir


def _text(value):
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


def _field(batch, key, source):
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise ArchiveError(f"{source}: missing key {key!r}")


def read_batch(path):
    """Return (images NHWC uint8, labels int64) of one batch file."""
    batch = load_untrusted_pickle(Path(path).read_bytes(), path)
    if not isinstance(batch, dict):
        raise ArchiveError(f"{path}: expected a dict, found {type(batch).__name__}")
    data = np.asarray(_field(batch, "data", path))
    labels = np.asarray(_field(batch, "labels", path))
    flat = int(np.prod(IMAGE_SHAPE))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != flat:
        raise ArchiveError(
            f"{path}: images must be uint8 of shape (N, {flat}), found {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ArchiveError(
            f"{path}: expected {data.shape[0]} integer labels, found {labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ArchiveError(f"{path}: labels outside 0..{NUM_CLASSES - 1}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def read_class_names(path):
    meta = load_untrusted_pickle(Path(path).read_bytes(), path)
    names = [_text(name) for name in _field(meta, "label_names", path)]
    if len(names) != NUM_CLASSES:
        raise ArchiveError(f"{path}: expected {NUM_CLASSES} class names, found {len(names)}")
    return names


def read_batches(batch_dir):
    """Return train images/labels, test images/labels and class names."""
    batch_dir = Path(batch_dir)
    for name in [*TRAIN_BATCHES, TEST_BATCH, META]:
        if not (batch_dir / name).is_file():
            raise ArchiveError(f"{batch_dir}: missing batch file {name}")
    train = [read_batch(batch_dir / name) for name in TRAIN_BATCHES]
    x_test, y_test = read_batch(batch_dir / TEST_BATCH)
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return x_train, y_train, x_test, y_test, read_class_names(batch_dir / META)
