"""Fetching with checksum verification: nothing is left behind on any failure."""

import hashlib
import socket

import pytest
from cifar_compare.data import download
from cifar_compare.data.download import DownloadError, check_tar_gz, fetch_verified
from cifar_compare.weights import UnofficialWeightsError, fetch_weights
from cifar_fixtures import write_archive

LIMIT = download.CIFAR_MAX_BYTES


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_local_path_and_file_url(tmp_path):
    source = tmp_path / "src.tar.gz"
    write_archive(source)
    for url in (str(source), source.as_uri()):
        target = tmp_path / "out" / "a.tar.gz"
        assert fetch_verified(
            url, target, "md5", md5_of(source), "data.url", max_bytes=LIMIT
        ) == md5_of(source)
        check_tar_gz(target)
        target.unlink()


def test_wrong_checksum_leaves_nothing(tmp_path):
    source = tmp_path / "src.tar.gz"
    write_archive(source)
    with pytest.raises(DownloadError, match="md5 of .* expected 0{32} .config key data.url"):
        fetch_verified(
            str(source), tmp_path / "out" / "a.tar.gz", "md5", "0" * 32, "data.url", max_bytes=LIMIT
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_local_file_names_the_key(tmp_path):
    with pytest.raises(DownloadError, match="data.url: local file .* does not exist"):
        fetch_verified(
            str(tmp_path / "nope"), tmp_path / "a", "md5", None, "data.url", max_bytes=LIMIT
        )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_url_explains_the_offline_route(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "RETRY_PAUSE_SECONDS", 0)
    url = f"http://127.0.0.1:{free_port()}/cifar-10-python.tar.gz"
    with pytest.raises(DownloadError, match="set data.url to its local path"):
        fetch_verified(url, tmp_path / "a.tar.gz", "md5", None, "data.url", max_bytes=LIMIT)
    assert list(tmp_path.iterdir()) == []


def test_non_archive_and_truncated_archive_are_refused(tmp_path):
    (tmp_path / "text.tar.gz").write_text("not an archive")
    with pytest.raises(DownloadError, match="not a readable .tar.gz"):
        check_tar_gz(tmp_path / "text.tar.gz")
    write_archive(tmp_path / "good.tar.gz")
    raw = (tmp_path / "good.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(DownloadError, match="not a readable .tar.gz"):
        check_tar_gz(tmp_path / "cut.tar.gz")


def test_unofficial_weights_are_refused_unless_allowed(tmp_path):
    source = tmp_path / "alexnet-owt-7be5be79.pth"
    source.write_bytes(b"stand-in weights, not the published file")
    target = tmp_path / "out" / "alexnet_imagenet1k_v1.pth"
    refusal = "is not the official alexnet_imagenet1k_v1 weights .* weights.allow_unofficial: true"
    with pytest.raises(UnofficialWeightsError, match=refusal):
        fetch_weights("alexnet_imagenet1k_v1", str(source), target, False)
    assert list(target.parent.iterdir()) == []
    record = fetch_weights("alexnet_imagenet1k_v1", str(source), target, True)
    assert record["official"] is False and target.is_file()
