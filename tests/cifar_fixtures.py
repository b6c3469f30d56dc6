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


def _add_bytes(archive, name, raw):
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    info.mtime = 0
    archive.addfile(info, io.BytesIO(raw))


def write_archive(path, train_per_class=4, test_per_class=2, seed=0, tamper=None):
    """Write an archive; `tamper` in {None, 'os_system', 'dotdot', 'symlink'}. Returns md5."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as archive:
            meta = {b"label_names": [name.encode() for name in CLASSES]}
            _add_bytes(archive, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, 2))
            for index, name in enumerate(BATCHES):
                per_class = test_per_class if name == "test_batch" else train_per_class
                payload = batch_payload(rng, per_class)
                if tamper == "os_system" and index == 0:
                    payload[b"labels"] = CallsOsSystem()
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
