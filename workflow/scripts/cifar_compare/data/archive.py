"""Read the official `cifar-10-python.tar.gz` safely, without extracting it.

The archive is untrusted input. It is read as one bounded stream: only the
seven expected members are taken, by name, straight into memory (nothing is
written to disk); a member whose header declares more than a real batch's size,
an unexpected large member, too many members or more decompressed bytes than a
real archive holds is refused before it is read. Batches go through
`numpy_pickle`, which cannot be tricked into building anything but small
integer arrays, and must have the CIFAR-10 layout: each batch 1 to 10,000
images of 32x32x3 uint8 with as many labels in 0..9, the five training batches
equally large, and exactly 10 distinct, short, printable class names.
"""

import gzip
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
META_MAX_BYTES = 64 * 1024  # the real batches.meta is 158 bytes
OTHER_MAX_BYTES = 64 * 1024  # readme.html (88 bytes) and folder entries
MAX_MEMBERS = 64  # the real archive has 9
EXTENDED_HEADER_MAX_BYTES = 64 * 1024  # GNU long names and pax headers, read into memory
NAME_MAX = 255
# Everything the reader may decompress: six batches plus headers and small members.
STREAM_MAX_BYTES = 6 * BATCH_MAX_BYTES + 16 * MIB
MEMBER_MAX_BYTES = {
    **dict.fromkeys([*TRAIN_BATCHES, TEST_BATCH], BATCH_MAX_BYTES),
    META: META_MAX_BYTES,
}
CLASS_NAME_MAX = 32
FIX = (
    "not a usable CIFAR-10 python archive: point data.url at the official one "
    "and data.md5 at its md5"
)


class ArchiveError(ValueError):
    def __init__(self, message, reason=""):
        super().__init__(message)
        self.reason = reason or message  # the message without the archive's path


def refuse(archive, member, reason):
    """An ArchiveError naming the archive, the member and the config keys to fix, on one line."""
    about = one_line((f"member {clip(member)}: " if member else "") + f"{reason}; {FIX}")
    return ArchiveError(one_line(f"{clip(archive, 120)}, {about}"), about)


class BoundedReader:
    """A read-only stream that refuses to deliver more than `limit` bytes in all."""

    def __init__(self, stream, limit, archive):
        self.stream, self.limit, self.archive, self.count = stream, limit, archive, 0

    def read(self, size=-1):
        room = self.limit - self.count
        chunk = self.stream.read(room + 1 if size < 0 or size > room else size)
        self.count += len(chunk)
        if self.count > self.limit:
            raise refuse(self.archive, None, f"decompresses to more than {self.limit} bytes")
        return chunk


class HeaderTooLarge(ValueError):
    pass


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
            raise HeaderTooLarge(
                f"an extended (long name or pax) header declares {self.size} bytes, "
                f"more than {EXTENDED_HEADER_MAX_BYTES}"
            )
        return super()._proc_member(tarfile_)


def check_member(member, archive=""):
    """Refuse member names that would escape a folder and members that are not plain files."""
    if len(member.name) > NAME_MAX:
        raise refuse(archive, member.name, f"member name longer than {NAME_MAX} characters")
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise refuse(archive, member.name, "the member escapes the target folder")
    if not (member.isfile() or member.isdir()) or member.issparse():
        raise refuse(archive, member.name, "the member is a link or device; only files allowed")


def _expected_name(member, archive):
    """The batch name of an expected member, None for a small member to skip."""
    check_member(member, archive)
    folder, _, name = member.name.partition("/")
    if folder == BATCH_DIR and name in MEMBER_MAX_BYTES and member.isfile():
        if member.size > MEMBER_MAX_BYTES[name]:
            reason = f"declares {member.size} bytes, more than {MEMBER_MAX_BYTES[name]}"
            raise refuse(archive, member.name, f"{reason} (a real {name} is smaller)")
        return name
    if member.size > OTHER_MAX_BYTES:
        raise refuse(archive, member.name, f"unexpected member of {member.size} bytes")
    return None


def _members(archive):
    """Yield (batch name, member bytes) of the expected members, read as one bounded stream."""
    taken = set()
    with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw) as unzipped:
        stream = BoundedReader(unzipped, STREAM_MAX_BYTES, archive)
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo) as tar:
            for index, member in enumerate(tar, start=1):
                if index > MAX_MEMBERS:
                    raise refuse(archive, None, f"more than {MAX_MEMBERS} members")
                name = _expected_name(member, archive)
                if name in taken:
                    raise refuse(archive, member.name, "the member appears twice")
                if name is not None:
                    taken.add(name)
                    yield name, tar.extractfile(member).read()


def read_members(archive):
    """Yield (batch name, member bytes) like `_members`, unreadable archives refused."""
    try:
        yield from _members(archive)
    except HeaderTooLarge as error:
        raise refuse(archive, None, str(error)) from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        reason = f"cannot read archive ({type(error).__name__}: {error})"
        raise refuse(archive, None, reason) from None


def _load(raw, archive, member):
    try:
        value = numpy_pickle.load(raw)
    except numpy_pickle.UnsafePickleError as error:
        raise refuse(archive, member, str(error)) from None
    if not isinstance(value, dict):
        raise refuse(archive, member, f"expected a dict, found {type(value).__name__}")
    return value


def _field(batch, key, archive, member):
    for candidate in (key.encode(), key):
        if candidate in batch:
            try:
                return numpy_pickle.unwrap(batch[candidate])
            except numpy_pickle.UnsafePickleError as error:
                raise refuse(archive, member, str(error)) from None
    raise refuse(archive, member, f"missing key {key!r}")


def _images(data, archive, member):
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == IMAGE_BYTES
    ):
        found = (
            f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        )
        reason = f"images must be uint8 of shape (N, {IMAGE_BYTES}), found {found}"
        raise refuse(archive, member, reason)
    if not 1 <= len(data) <= BATCH_MAX_IMAGES:
        reason = f"holds {len(data)} images; a CIFAR-10 batch holds 1 to {BATCH_MAX_IMAGES}"
        raise refuse(archive, member, reason)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel planes -> NHWC
    return np.ascontiguousarray(images)


def _labels(labels, count, archive, member):
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        labels = labels.tolist()  # an integer dtype: numpy_pickle allows no other
    if not isinstance(labels, list) or len(labels) != count:
        found = len(labels) if isinstance(labels, list) else type(labels).__name__
        raise refuse(archive, member, f"expected {count} integer labels, found {found}")
    if not all(type(label) is int for label in labels):
        raise refuse(archive, member, "labels must be integers")
    if not all(0 <= label < NUM_CLASSES for label in labels):
        raise refuse(archive, member, f"labels outside 0..{NUM_CLASSES - 1}")
    return np.asarray(labels, dtype=np.int64)


def parse_batch(raw, archive="", member=""):
    """Return (images NHWC uint8, labels int64) of one pickled batch."""
    batch = _load(raw, archive, member)
    images = _images(_field(batch, "data", archive, member), archive, member)
    labels = _labels(_field(batch, "labels", archive, member), len(images), archive, member)
    return images, labels


def _class_name(value, archive, member):
    name = value.decode("latin1") if isinstance(value, bytes) else value
    if not (
        isinstance(name, str)
        and 1 <= len(name) <= CLASS_NAME_MAX
        and name.isascii()
        and name.isprintable()
    ):
        reason = f"class name {clip(repr(name), 40)} is not 1 to {CLASS_NAME_MAX} printable ASCII"
        raise refuse(archive, member, reason + " characters")
    return name


def parse_meta(raw, archive="", member=""):
    """Return (class names, declared images per batch or None) of batches.meta."""
    meta = _load(raw, archive, member)
    names = _field(meta, "label_names", archive, member)
    if not isinstance(names, list) or len(names) != NUM_CLASSES:
        found = len(names) if isinstance(names, list) else type(names).__name__
        raise refuse(archive, member, f"expected {NUM_CLASSES} class names, found {found}")
    names = [_class_name(name, archive, member) for name in names]
    if len(set(names)) != NUM_CLASSES:
        raise refuse(archive, member, "the 10 class names are not distinct")
    per_batch = meta.get(b"num_cases_per_batch", meta.get("num_cases_per_batch"))
    return names, per_batch


def _parse_members(archive):
    """{batch name: parsed content} of all seven members, each parsed as soon as it is read."""
    parsed = {}
    for name, raw in read_members(archive):
        parse = parse_meta if name == META else parse_batch
        parsed[name] = parse(raw, archive, f"{BATCH_DIR}/{name}")
    for name in [*TRAIN_BATCHES, TEST_BATCH, META]:
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
