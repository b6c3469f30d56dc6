"""Hostile inputs built by the tests themselves: crafted pickles, archive bombs, endless servers."""

import gzip
import hashlib
import http.server
import io
import pickle
import tarfile
import threading

import numpy as np
from cifar_fixtures import CLASSES, batch_payload

BATCH_DIR = "cifar-10-batches-py"
TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


class CraftedArray:
    """Pickles exactly as numpy's own ndarray does, with whatever shape, dtype and data."""

    def __init__(self, shape, dtype, data):
        self.shape, self.dtype, self.data = shape, dtype, data

    def __reduce__(self):
        state = (1, self.shape, np.dtype(self.dtype), False, self.data)
        return (np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), state)


def batch_pickle(data, labels):
    return pickle.dumps({b"data": data, b"labels": labels}, 2)


def meta_pickle(names=None, **extra):
    names = [name.encode() for name in CLASSES] if names is None else names
    return pickle.dumps({b"label_names": names, **extra}, 2)


def memo_bomb_labels(count):
    """A batch pickle whose labels list holds `count` references to one int (2 bytes each)."""
    head = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": None}, 2)
    body = head[: head.rindex(b"N")]  # up to the None of the labels
    labels = b"]q\xff(K\x00q\xfe" + b"h\xfe" * (count - 1) + b"e"  # list: 0, then memo refs
    return body + labels + head[head.rindex(b"N") + 1 :]


def good_members(train_per_class=2, test_per_class=2):
    rng = np.random.default_rng(0)
    members = {"batches.meta": meta_pickle()}
    for name in [*TRAIN, "test_batch"]:
        per_class = test_per_class if name == "test_batch" else train_per_class
        members[name] = pickle.dumps(batch_payload(rng, per_class), 2)
    return members


def write_tar_gz(path, entries, level=1):
    """Write (TarInfo or member name, bytes or None) entries; returns the archive's md5."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=level) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for info, raw in entries:
                if isinstance(info, str):
                    info = tarfile.TarInfo(info)
                    info.size = len(raw)
                if isinstance(raw, bytes):
                    raw = io.BytesIO(raw)
                archive.addfile(info, raw)
    path.write_bytes(buffer.getvalue())
    return hashlib.md5(buffer.getvalue()).hexdigest()


def write_cifar_like(path, members, extra=()):
    """An archive of `members` ({batch name: bytes}) under cifar-10-batches-py/, plus extras."""
    entries = [(f"{BATCH_DIR}/{name}", raw) for name, raw in members.items()]
    return write_tar_gz(path, [*entries, *extra])


class ZeroStream(io.RawIOBase):
    """`size` zero bytes, read lazily (for members declaring a huge size)."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def zero_member(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info, ZeroStream(size)


class Server:
    """An HTTP server on 127.0.0.1 in a thread; counts requests and bytes sent."""

    def __init__(self, handler_body):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                try:
                    handler_body(self, server)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.requests = 0
        self.sent = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cifar-10-python.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def send(self, handler, chunk):
        handler.wfile.write(chunk)
        self.sent += len(chunk)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
