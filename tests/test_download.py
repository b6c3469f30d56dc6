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


def test_alexnet_is_official_only_with_torchvisions_prefix_and_its_full_pinned_sha256(
    tmp_path, monkeypatch
):
    """A file with the right 8-digit prefix (here: the stand-in's own, made the published
    one) is not official until its full sha256 is pinned; a different pin refuses it."""
    name = "alexnet_imagenet1k_v1"
    source = tmp_path / "alexnet.pth"
    source.write_bytes(b"a file whose sha256 prefix is the published one")
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    official = fetch_weights.__globals__["OFFICIAL_WEIGHTS"]
    monkeypatch.setitem(official, name, {**official[name], "digest": sha256[:8]})
    prefix = f"sha256 prefix {sha256[:8]} from torchvision's file name"
    with pytest.raises(UnofficialWeightsError, match=f"cannot be verified \\({prefix} only, no"):
        fetch_weights(name, str(source), tmp_path / "a.pth", False)
    unpinned = fetch_weights(name, str(source), tmp_path / "a.pth", True)
    assert not unpinned["official"] and unpinned["official_hash"] is None
    record = fetch_weights(name, str(source), tmp_path / "b.pth", False, pinned=sha256)
    assert record["official"] and record["official_hash"] == sha256
    assert record["checked_against"] == (
        f"{prefix} and full sha256 pinned in config/weights.lock.json"
    )
    with pytest.raises(UnofficialWeightsError, match=f"checked against the {prefix} and full"):
        fetch_weights(name, str(source), tmp_path / "c.pth", False, pinned="7" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pth", "alexnet.pth", "b.pth"]
