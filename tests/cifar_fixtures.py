"""Generate small archives in the official cifar-10-python.tar.gz layout, good or bad."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class CallsOsSystem:
    """Unpickling this runs os.system: the archive attack the prepare step must refuse."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/cifar-compare-pwned",))


def class_images(rng, labels):
    """Images whose colour depends on the class, so a model can learn something."""
    base = (labels[:, None] * 25).astype(np.int16)
    noise = rng.integers(-20, 20, size=(len(labels), 3072))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def batch_payload(rng, per_class):
    labels = np.repeat(np.arange(10), per_class)
    rng.shuffle(labels)
    return {b"data": class_images(rng, labels), b"labels": labels.tolist()}


def tamper_payload(payload, tamper, first_batch):
    """Spoil one batch (or, for missing_class, every batch) the way `tamper` says."""
    labels = payload[b"labels"]
    if tamper == "missing_class":
        payload[b"labels"] = [8 if label == 9 else label for label in labels]
    if not first_batch:
        return
    if tamper == "os_system":
        payload[b"labels"] = CallsOsSystem()
    elif tamper == "extra_class":
        labels[0] = 10
    elif tamper == "wrong_shape":
        payload[b"data"] = payload[b"data"][:, :768]


def _add_bytes(archive, name, raw):
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    info.mtime = 0
    archive.addfile(info, io.BytesIO(raw))


def write_archive(path, train_per_class=4, test_per_class=2, seed=0, tamper=None):
    """Write an archive; returns its md5. `tamper`: None, 'os_system', 'dotdot',
    'symlink', 'extra_class' (a label 10), 'missing_class' (no class 9) or
    'wrong_shape' (16x16 images)."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as archive:
            meta = {b"label_names": [name.encode() for name in CLASSES]}
            _add_bytes(archive, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, 2))
            for index, name in enumerate(BATCHES):
                per_class = test_per_class if name == "test_batch" else train_per_class
                payload = batch_payload(rng, per_class)
                tamper_payload(payload, tamper, first_batch=index == 0)
                _add_bytes(archive, f"cifar-10-batches-py/{name}", pickle.dumps(payload, 2))
            if tamper == "dotdot":
                _add_bytes(archive, "cifar-10-batches-py/../../escaped.txt", b"escaped")
            if tamper == "symlink":
                link = tarfile.TarInfo("cifar-10-batches-py/link")
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                archive.addfile(link)
    raw = buffer.getvalue()
    with open(path, "wb") as handle:
        handle.write(raw)
    return hashlib.md5(raw).hexdigest()


def write_standin_alexnet_weights(path):
    """Random values in the exact layout of torchvision's alexnet-owt-7be5be79.pth."""
    import torch
    from torchvision.models import alexnet

    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), path)


KERAS_CONSTRUCTORS = {
    "mobilenet_v2": "MobileNetV2",
    "vgg16": "VGG16",
    "resnet50": "ResNet50",
    "efficientnet_b0": "EfficientNetB0",
}


def write_standin_keras_weights(path, architecture, input_size=128):
    """Random values in the layout of the official keras-applications no-top .h5 files.

    The official files are Keras 2 HDF5 weight files (layer_names / weight_names
    attributes), which Keras 3 reads with its legacy loader; this writes the same.
    """
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    constructor = getattr(keras.applications, KERAS_CONSTRUCTORS[architecture])
    model = constructor(include_top=False, weights=None, input_shape=(input_size, input_size, 3))
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return model


TINY_ARCHIVE = "cifar-10-python.tar.gz"
TINY_ALEXNET = "alexnet-owt-7be5be79.pth"
TINY_MOBILENET = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_128_no_top.h5"


def write_tiny_inputs(folder):
    """The tiny study's inputs in `folder`: a CIFAR-format archive (4 training and 10 test
    images per class) and stand-in AlexNet and MobileNetV2 (128 px) weights."""
    folder.mkdir(parents=True, exist_ok=True)
    write_archive(folder / TINY_ARCHIVE, train_per_class=4, test_per_class=10)
    write_standin_alexnet_weights(folder / TINY_ALEXNET)
    write_standin_keras_weights(folder / TINY_MOBILENET, "mobilenet_v2")
    return tiny_inputs_in(folder)


def tiny_inputs_in(folder):
    """The files `write_tiny_inputs` wrote in `folder`, and the archive's md5."""
    archive = folder / TINY_ARCHIVE
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    return {
        "archive": archive,
        "md5": md5,
        "weights": folder / TINY_ALEXNET,
        "mobilenet_weights": folder / TINY_MOBILENET,
    }


def inputs_overlay(inputs, **data):
    """Config overlay pointing the workflow at `write_tiny_inputs`' files."""
    return {
        "data": {"url": str(inputs["archive"]), "md5": inputs["md5"], **data},
        "weights": {
            "allow_unofficial": True,
            "sources": {
                "alexnet_imagenet1k_v1": {"url": str(inputs["weights"])},
                "mobilenet_v2_imagenet_no_top_128": {"url": str(inputs["mobilenet_weights"])},
            },
        },
    }
