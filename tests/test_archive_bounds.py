"""Every bound of the archive reader at its edge: exactly at the limit accepted, one past
refused. The limits are written out here as numbers (from the official archive's layout),
not read from the module, so a changed constant fails too."""

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest
from cifar_compare.data import archive as cifar_archive
from cifar_compare.data.archive import (
    ArchiveError,
    BoundedReader,
    check_member,
    parse_batch,
    parse_meta,
    read_members,
)
from cifar_fixtures import CLASSES
from hostile_inputs import BATCH_DIR, write_tar_gz, zero_member

MIB = 2**20
BATCH_BYTES = 32 * MIB  # 33,554,432: a real batch pickle is about 31.0 MB
SMALL_BYTES = 64 * 1024  # 65,536: batches.meta (158 bytes), readme.html, extended headers
FIX = (
    "not a usable CIFAR-10 python archive: point data.url at the official one and data.md5 "
    "at its md5"
)


def batch(images, labels=None):
    """Protocol 3, which pickles bytes as bytes: protocol 2 pickles empty bytes as a call
    to `bytes()`, which the unpickler refuses before the image count is checked."""
    data = np.zeros((images, 3072), np.uint8)
    labels = [i % 10 for i in range(images)] if labels is None else labels
    return pickle.dumps({b"data": data, b"labels": labels}, 3)


def meta(names):
    return pickle.dumps({b"label_names": list(names)}, 2)  # str names: "" pickles in protocol 2


def members_of(path, entries):
    write_tar_gz(path, entries)
    return [(name, len(raw)) for name, raw in read_members(path)]


@pytest.mark.parametrize("images", [1, 10_000])
def test_a_batch_of_one_to_ten_thousand_images_is_read(images):
    found, labels = parse_batch(batch(images))
    assert found.shape == (images, 32, 32, 3)
    assert labels[:3].tolist() == [0, 1, 2][:images] and labels[-1] == (images - 1) % 10


@pytest.mark.parametrize("images", [0, 10_001])
def test_a_batch_of_no_images_or_more_than_ten_thousand_is_refused(images):
    with pytest.raises(ArchiveError, match=f"holds {images} images; a CIFAR-10 batch holds 1 to"):
        parse_batch(batch(images), "a.tar.gz", f"{BATCH_DIR}/data_batch_1")


def test_labels_zero_and_nine_are_read_minus_one_ten_and_booleans_refused():
    assert parse_batch(batch(2, [0, 9]))[1].tolist() == [0, 9]
    for labels in [[0, -1], [10, 0]]:
        with pytest.raises(ArchiveError, match="labels outside 0..9; "):
            parse_batch(batch(2, labels))
    with pytest.raises(ArchiveError) as refused:
        parse_batch(batch(2, [True, 0]))  # a bool is an int to isinstance, not a label
    assert refused.value.reason == f"labels must be integers; {FIX}"  # no member named


@pytest.mark.parametrize("length", [1, 32])
def test_class_names_of_one_to_32_characters_are_read(length):
    names, _ = parse_meta(meta([b"n" * length, *CLASSES[1:]]))
    assert names[0] == "n" * length


def test_a_class_name_of_33_characters_or_none_is_refused():
    for name in ["n" * 33, ""]:
        with pytest.raises(ArchiveError, match="is not 1 to 32 letters, digits"):
            parse_meta(meta([name, *CLASSES[1:]]))


@pytest.mark.parametrize("count", [9, 11])
def test_other_than_ten_class_names_is_refused(count):
    names = [f"class{i}" for i in range(count)]
    with pytest.raises(ArchiveError, match=f"expected 10 class names, found {count}"):
        parse_meta(meta(names))


@pytest.mark.parametrize(
    ("name", "limit"),
    [("data_batch_1", BATCH_BYTES), ("test_batch", BATCH_BYTES), ("batches.meta", SMALL_BYTES)],
)
def test_a_member_of_exactly_its_size_limit_is_read_one_byte_more_refused(tmp_path, name, limit):
    archive = tmp_path / "a.tar.gz"
    assert members_of(archive, [zero_member(f"{BATCH_DIR}/{name}", limit)]) == [(name, limit)]
    with pytest.raises(ArchiveError, match=f"declares {limit + 1} bytes, more than {limit} "):
        members_of(archive, [zero_member(f"{BATCH_DIR}/{name}", limit + 1)])


def test_an_unexpected_member_of_64_kib_is_skipped_one_byte_more_refused(tmp_path):
    archive = tmp_path / "a.tar.gz"
    assert members_of(archive, [zero_member(f"{BATCH_DIR}/readme.html", SMALL_BYTES)]) == []
    with pytest.raises(ArchiveError, match=f"unexpected member of {SMALL_BYTES + 1} bytes"):
        members_of(archive, [zero_member(f"{BATCH_DIR}/readme.html", SMALL_BYTES + 1)])


def test_64_members_are_read_65_refused(tmp_path):
    """A refusal of the whole archive names no member; its reason (what the download check
    quotes) leaves the archive's path out."""
    archive = tmp_path / ("a" * 150 + ".tar.gz")  # named to 120 characters
    junk = [(f"{BATCH_DIR}/junk{i}", b"x") for i in range(65)]
    assert members_of(archive, junk[:64]) == []
    with pytest.raises(ArchiveError) as refused:
        members_of(archive, junk)
    assert str(refused.value) == f"{str(archive)[:117]}..., more than 64 members; {FIX}"
    assert refused.value.reason == f"more than 64 members; {FIX}"


def test_a_member_name_of_255_characters_is_read_256_refused(tmp_path):
    archive = tmp_path / "a.tar.gz"
    prefix = f"{BATCH_DIR}/"  # 20 characters
    assert members_of(archive, [(prefix + "y" * 235, b"")]) == []
    with pytest.raises(ArchiveError, match="member name longer than 255 characters"):
        members_of(archive, [(prefix + "y" * 236, b"")])


def pax_archive(path, comment_length):
    """A one-member archive whose pax extended header is the one record
    '<length> comment=<comment>\\n': 15 + comment_length bytes while the length is 5 digits."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=1) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(f"{BATCH_DIR}/batches.meta")
            info.pax_headers = {"comment": "c" * comment_length}
            raw = meta(CLASSES)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    path.write_bytes(buffer.getvalue())


def test_an_extended_header_of_64_kib_is_read_one_byte_more_refused(tmp_path):
    archive = tmp_path / "a.tar.gz"
    pax_archive(archive, SMALL_BYTES - 15)  # the record "65536 comment=ccc...\n"
    assert [name for name, _ in read_members(archive)] == ["batches.meta"]
    pax_archive(archive, SMALL_BYTES - 14)
    with pytest.raises(ArchiveError, match=f"header declares {SMALL_BYTES + 1} bytes, more than"):
        list(read_members(archive))


def test_the_stream_bound_reads_exactly_the_decompressed_size(tmp_path, monkeypatch):
    """The whole tar stream (gunzipped here, independently of the reader) fits a bound of
    its own size and not one byte less."""
    archive = tmp_path / "a.tar.gz"
    write_tar_gz(archive, [(f"{BATCH_DIR}/batches.meta", meta(CLASSES))])
    size = len(gzip.decompress(archive.read_bytes()))
    assert size % tarfile.RECORDSIZE == 0  # tarfile pads the stream to whole records
    monkeypatch.setattr(cifar_archive, "STREAM_MAX_BYTES", size)
    assert [name for name, _ in read_members(archive)] == ["batches.meta"]
    monkeypatch.setattr(cifar_archive, "STREAM_MAX_BYTES", size - 1)
    with pytest.raises(ArchiveError, match=f"decompresses to more than {size - 1} bytes"):
        list(read_members(archive))


def refusal(parse, raw, member):
    """The one line parse_batch or parse_meta refuses `raw` with, as member `member` of
    a.tar.gz, up to the config keys to fix."""
    with pytest.raises(ArchiveError) as refused:
        parse(raw, "a.tar.gz", f"{BATCH_DIR}/{member}")
    return str(refused.value).partition("; not a usable CIFAR-10 python archive")[0]


def test_labels_stored_as_an_integer_array_are_read_as_a_list_would_be():
    for dtype in (np.int32, np.int64):
        labels = np.array([3, 7], dtype)
        raw = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}, 3)
        found = parse_batch(raw)[1]
        assert found.tolist() == [3, 7] and found.dtype == np.int64


@pytest.mark.parametrize(
    ("labels", "found"), [([0, 1, 2], "3"), (np.zeros((2, 1), np.int64), "ndarray"), ({}, "dict")]
)
def test_labels_of_another_count_or_shape_are_refused_saying_what_was_found(labels, found):
    raw = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}, 3)
    assert refusal(parse_batch, raw, "data_batch_1") == (
        f"a.tar.gz, member {BATCH_DIR}/data_batch_1: expected 2 integer labels, found {found}"
    )


def test_class_names_not_in_a_list_or_too_long_are_refused_naming_them_clipped():
    names = [name.encode() for name in CLASSES]
    member = f"a.tar.gz, member {BATCH_DIR}/batches.meta"
    found = refusal(parse_meta, meta([b"x" * 100, *names[1:]]), "batches.meta")
    assert found == f"{member}: class name '{'x' * 36}... is not 1 to 32 letters, digits, " + (
        "spaces, '_', '.' or '-', starting with a letter or digit"
    )
    raw = pickle.dumps({b"label_names": tuple(names)}, 3)
    assert (
        refusal(parse_meta, raw, "batches.meta")
        == f"{member}: expected 10 class names, found tuple"
    )


def test_the_declared_batch_size_is_read_under_a_bytes_or_a_str_key():
    names = [name.encode() for name in CLASSES]
    assert parse_meta(meta(names))[1] is None
    for key in (b"num_cases_per_batch", "num_cases_per_batch"):
        assert parse_meta(pickle.dumps({b"label_names": names, key: 7}, 3))[1] == 7


def test_a_batch_not_a_dict_or_without_uint8_images_is_refused_saying_what_was_found():
    member = f"a.tar.gz, member {BATCH_DIR}/data_batch_1"
    assert refusal(parse_batch, pickle.dumps([1], 3), "data_batch_1") == (
        f"{member}: expected a dict, found list"
    )
    shape = "images must be uint8 of shape (N, 3072), found"
    for data, found in [([0] * 3072, "list"), (np.zeros((2, 3072), np.int64), "int64 (2, 3072)")]:
        raw = pickle.dumps({b"data": data, b"labels": [0, 1]}, 3)
        assert refusal(parse_batch, raw, "data_batch_1") == f"{member}: {shape} {found}"


def test_repeated_class_names_are_refused():
    raw = meta([CLASSES[0]] * 10)
    assert refusal(parse_meta, raw, "batches.meta") == (
        f"a.tar.gz, member {BATCH_DIR}/batches.meta: the 10 class names are not distinct"
    )
    with pytest.raises(ArchiveError) as refused:
        parse_meta(raw)
    assert refused.value.reason == f"the 10 class names are not distinct; {FIX}"


def test_the_bounded_reader_delivers_the_limit_and_reads_one_byte_past_it_to_refuse():
    stream = io.BytesIO(bytes(100))
    reader = BoundedReader(stream, 10)
    assert [len(reader.read(size)) for size in (0, 3, 7)] == [0, 3, 7]  # 7: the room left
    with pytest.raises(ArchiveError, match="^decompresses to more than 10 bytes$"):
        reader.read(5)
    assert stream.tell() == 11
    stream = io.BytesIO(bytes(100))
    reader = BoundedReader(stream, 10)
    reader.read(5)
    with pytest.raises(ArchiveError):
        reader.read()  # all: the room left and one byte
    assert stream.tell() == 11


def test_members_that_escape_the_folder_or_are_links_are_refused():
    for name in ["../x", "/etc/x", f"{BATCH_DIR}/../../x"]:
        with pytest.raises(ArchiveError, match="^the member escapes the target folder$"):
            check_member(tarfile.TarInfo(name))
    link = tarfile.TarInfo(f"{BATCH_DIR}/data_batch_1")
    link.type = tarfile.SYMTYPE
    with pytest.raises(ArchiveError, match="^the member is a link or device; only files allowed$"):
        check_member(link)
