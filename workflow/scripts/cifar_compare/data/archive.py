"""Read the official `cifar-10-python.tar.gz` safely, without extracting it.

The archive is untrusted input, read as one bounded stream: only the seven
expected members are taken, by name, straight into memory; a member whose header
declares more than a real batch's size, an unexpected large member, too many
members or more decompressed bytes than a real archive holds is refused before
it is read. Batches go through `numpy_pickle`, which builds nothing but small
integer arrays, and must have the CIFAR-10 layout: 1 to 10,000 images of 32x32x3
uint8 with as many labels in 0..9 per batch, equally large training batches and
10 distinct, short class names of letters, digits, spaces, '_', '.' and '-'.
"""

import contextlib
import gzip
import re
import tarfile
import zlib
from pathlib import PurePosixPath

import numpy as np

from cifar_compare.data import numpy_pickle
from cifar_compare.messages import clip, one_line

BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
META = "batches.meta"
IMAGE_BYTES = 32 * 32 * 3
NUM_CLASSES = 10
BATCH_MAX_IMAGES = 10_000
MIB = 2**20
# A real batch pickle is about 31.0 MB: 30.72 MB of pixels plus labels and file names.
BATCH_MAX_BYTES = 32 * MIB
OTHER_MAX_BYTES = 64 * 1024  # readme.html (88 bytes) and folder entries
MAX_MEMBERS = 64  # the real archive has 9
EXTENDED_HEADER_MAX_BYTES = 64 * 1024  # GNU long names and pax headers, read into memory
NAME_MAX = 255
# Everything the reader may decompress: six batches plus headers and small members.
STREAM_MAX_BYTES = 6 * BATCH_MAX_BYTES + 16 * MIB
# The seven members read, with their ceilings (the real batches.meta is 158 bytes).
MEMBER_MAX_BYTES = dict.fromkeys([*TRAIN_BATCHES, TEST_BATCH], BATCH_MAX_BYTES) | {META: 64 * 1024}
CLASS_NAME_MAX = 32
# Class names label plots and tables: no `$` (matplotlib math), `|` (Markdown) or markup.
CLASS_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9 _.-]{{0,{CLASS_NAME_MAX - 1}}}")
CLASS_NAME_RULE = (
    f"1 to {CLASS_NAME_MAX} letters, digits, spaces, '_', '.' or '-', starting with a "
    "letter or digit"
)
FIX = (
    "not a usable CIFAR-10 python archive: point data.url at the official one "
    "and data.md5 at its md5"
)


class ArchiveError(ValueError):
    def __init__(self, message, reason=""):
        super().__init__(message)
        self.reason = reason or message  # the message without the archive's path


class BadContent(ArchiveError):
    """A refusal without the archive's name: `refusing` or `read_members` adds it."""


def refuse(archive, member, reason):
    """An ArchiveError naming the archive, the member and the config keys to fix, on one line."""
    about = one_line((f"member {clip(member)}: " if member else "") + f"{reason}; {FIX}")
    return ArchiveError(one_line(f"{clip(archive, 120)}, {about}"), about)


@contextlib.contextmanager
def refusing(archive, member=None):
    """Turn a BadContent or UnsafePickleError raised inside into `refuse`'s ArchiveError."""
    try:
        yield
    except (BadContent, numpy_pickle.UnsafePickleError) as error:
        raise refuse(archive, member, str(error)) from None


class BoundedReader:
    """A read-only stream that refuses to deliver more than `limit` bytes in all."""

    def __init__(self, stream, limit):
        self.stream, self.limit, self.count = stream, limit, 0

    def read(self, size=-1):
        room = self.limit - self.count
        chunk = self.stream.read(room + 1 if size < 0 or size > room else size)
        self.count += len(chunk)
        if self.count > self.limit:
            raise BadContent(f"decompresses to more than {self.limit} bytes")
        return chunk


class BoundedTarInfo(tarfile.TarInfo):
    """Refuses a GNU long-name or pax header larger than a few KB before tarfile reads it."""

    EXTENDED = (
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    )

    def _proc_member(self, tarfile_):
        if self.type in self.EXTENDED and self.size > EXTENDED_HEADER_MAX_BYTES:
            raise BadContent(
                f"an extended (long name or pax) header declares {self.size} bytes, "
                f"more than {EXTENDED_HEADER_MAX_BYTES}"
            )
        return super()._proc_member(tarfile_)


def check_member(member):
    """Refuse member names that would escape a folder and members that are not plain files."""
    if len(member.name) > NAME_MAX:
        raise BadContent(f"member name longer than {NAME_MAX} characters")
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise BadContent("the member escapes the target folder")
    if not (member.isfile() or member.isdir()) or member.issparse():
        raise BadContent("the member is a link or device; only files allowed")


def _expected_name(member):
    """The batch name of an expected member, None for a small member to skip."""
    check_member(member)
    folder, _, name = member.name.partition("/")
    if folder == BATCH_DIR and name in MEMBER_MAX_BYTES and member.isfile():
        if member.size > MEMBER_MAX_BYTES[name]:
            reason = f"declares {member.size} bytes, more than {MEMBER_MAX_BYTES[name]}"
            raise BadContent(f"{reason} (a real {name} is smaller)")
        return name
    if member.size > OTHER_MAX_BYTES:
        raise BadContent(f"unexpected member of {member.size} bytes")
    return None


def read_members(archive):
    """Yield (batch name, member bytes) of the expected members, read as one bounded stream."""
    taken = set()
    try:
        with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw) as unzipped:
            stream = BoundedReader(unzipped, STREAM_MAX_BYTES)
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo) as tar:
                for index, member in enumerate(tar, start=1):
                    if index > MAX_MEMBERS:
                        raise BadContent(f"more than {MAX_MEMBERS} members")
                    with refusing(archive, member.name):
                        name = _expected_name(member)
                        if name in taken:
                            raise BadContent("the member appears twice")
                    if name is not None:
                        taken.add(name)
                        yield name, tar.extractfile(member).read()
    except BadContent as error:  # about the whole archive, or its headers
        raise refuse(archive, None, str(error)) from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        reason = f"cannot read archive ({type(error).__name__}: {error})"
        raise refuse(archive, None, reason) from None


def _load(raw):
    value = numpy_pickle.load(raw)
    if not isinstance(value, dict):
        raise BadContent(f"expected a dict, found {type(value).__name__}")
    return value


def _field(batch, key):
    for candidate in (key.encode(), key):
        if candidate in batch:
            return numpy_pickle.unwrap(batch[candidate])
    raise BadContent(f"missing key {key!r}")


def _images(data):
    """NHWC images of a batch's `data`: N rows of three 32x32 channel planes."""
    is_array = isinstance(data, np.ndarray)
    if not (is_array and data.dtype == np.uint8 and data.shape[1:] == (IMAGE_BYTES,)):
        found = f"{data.dtype} {data.shape}" if is_array else type(data).__name__
        raise BadContent(f"images must be uint8 of shape (N, {IMAGE_BYTES}), found {found}")
    if not 1 <= len(data) <= BATCH_MAX_IMAGES:
        reason = f"holds {len(data)} images; a CIFAR-10 batch holds 1 to {BATCH_MAX_IMAGES}"
        raise BadContent(reason)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel planes -> NHWC
    return np.ascontiguousarray(images)


def _labels(labels, count):
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        labels = labels.tolist()  # an integer dtype: numpy_pickle allows no other
    if not isinstance(labels, list) or len(labels) != count:
        found = len(labels) if isinstance(labels, list) else type(labels).__name__
        raise BadContent(f"expected {count} integer labels, found {found}")
    if not all(type(label) is int for label in labels):
        raise BadContent("labels must be integers")
    if not all(0 <= label < NUM_CLASSES for label in labels):
        raise BadContent(f"labels outside 0..{NUM_CLASSES - 1}")
    return np.asarray(labels, dtype=np.int64)


def parse_batch(raw, archive="", member=""):
    """Return (images NHWC uint8, labels int64) of one pickled batch."""
    with refusing(archive, member):
        batch = _load(raw)
        images = _images(_field(batch, "data"))
        return images, _labels(_field(batch, "labels"), len(images))


def _class_name(value):
    name = value.decode("latin1") if isinstance(value, bytes) else value
    if not (isinstance(name, str) and CLASS_NAME.fullmatch(name)):
        raise BadContent(f"class name {clip(repr(name), 40)} is not {CLASS_NAME_RULE}")
    return name


def parse_meta(raw, archive="", member=""):
    """Return (class names, declared images per batch or None) of batches.meta."""
    with refusing(archive, member):
        meta = _load(raw)
        names = _field(meta, "label_names")
        if not isinstance(names, list) or len(names) != NUM_CLASSES:
            found = len(names) if isinstance(names, list) else type(names).__name__
            raise BadContent(f"expected {NUM_CLASSES} class names, found {found}")
        names = [_class_name(name) for name in names]
        if len(set(names)) != NUM_CLASSES:
            raise BadContent("the 10 class names are not distinct")
    return names, meta.get(b"num_cases_per_batch", meta.get("num_cases_per_batch"))


def _parse_members(archive):
    """{batch name: parsed content} of all seven members, each parsed as soon as it is read."""
    parsed = {}
    for name, raw in read_members(archive):
        parse = parse_meta if name == META else parse_batch
        parsed[name] = parse(raw, archive, f"{BATCH_DIR}/{name}")
    for name in MEMBER_MAX_BYTES:
        if name not in parsed:
            raise refuse(archive, f"{BATCH_DIR}/{name}", "missing from the archive")
    return parsed


def _check_batch_sizes(parsed, per_batch, archive):
    """The five training batches hold equally many images, as batches.meta says if it says."""
    first = len(parsed[TRAIN_BATCHES[0]][1])
    for name in TRAIN_BATCHES:
        count = len(parsed[name][1])
        if count != first or per_batch not in (None, count):
            declared = clip(repr(per_batch), 20)
            reason = f"holds {count} images, {TRAIN_BATCHES[0]} {first}, batches.meta {declared}"
            raise refuse(archive, f"{BATCH_DIR}/{name}", reason)


def read_archive(archive):
    """Return train images/labels, test images/labels and class names of the archive."""
    parsed = _parse_members(archive)
    names, per_batch = parsed.pop(META)
    _check_batch_sizes(parsed, per_batch, archive)
    train = zip(*(parsed[name] for name in TRAIN_BATCHES), strict=True)  # images, labels
    x_train, y_train = map(np.concatenate, train)
    return x_train, y_train, *parsed[TEST_BATCH], names
