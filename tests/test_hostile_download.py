"""Hostile download sources, served from 127.0.0.1 inside the test: cut at the ceiling or the
deadline, checksum and format failures not retried, nothing left behind."""

import hashlib
import json
import logging
import time

import pytest
from cifar_compare import weights
from cifar_compare.data import download
from cifar_compare.data.download import (
    CIFAR_MAX_BYTES,
    DownloadError,
    fetch_verified,
    write_download_provenance,
)
from cifar_compare.messages import redact_url
from cifar_fixtures import write_archive
from download_cifar import download_cifar
from hostile_inputs import Server

MIB = 2**20
SOCKET_SLACK = 64 * MIB  # bytes a server may push into socket buffers before the cut


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch):
    monkeypatch.setattr(download, "RETRY_PAUSE_SECONDS", 0)


@pytest.fixture
def serve():
    servers = []

    def start(body):
        servers.append(Server(body))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def endless(limit, declared=None, pause=0.0):
    """A response that streams zeros until `limit` bytes (so a failed test cannot hang)."""

    def body(handler, server):
        handler.send_response(200)
        if declared is not None:
            handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        while server.sent < limit:
            server.send(handler, bytes(MIB if not pause else 1024))
            time.sleep(pause)

    return body


def status(code):
    def body(handler, server):
        handler.send_error(code)

    return body


def file_body(raw):
    def body(handler, server):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        server.send(handler, raw)

    return body


def test_endless_source_is_cut_at_the_cifar_ceiling(tmp_path, serve):
    server = serve(endless(limit=4 * CIFAR_MAX_BYTES))
    target = tmp_path / "download" / "cifar-10-python.tar.gz"
    with pytest.raises(DownloadError, match=f"more than {CIFAR_MAX_BYTES} bytes"):
        download_cifar(server.url, "0" * 32, target, logging.getLogger())
    assert server.sent <= CIFAR_MAX_BYTES + SOCKET_SLACK
    assert server.requests == 1
    assert list(target.parent.iterdir()) == []


def test_declared_length_over_the_ceiling_is_refused_before_reading(tmp_path, serve):
    server = serve(endless(limit=4 * CIFAR_MAX_BYTES, declared=10**12))
    with pytest.raises(DownloadError, match="declares 1000000000000 bytes, more than"):
        download_cifar(server.url, "0" * 32, tmp_path / "a.tar.gz", logging.getLogger())
    assert server.sent <= SOCKET_SLACK and server.requests == 1
    assert list(tmp_path.iterdir()) == []


def test_slow_source_is_cut_at_the_deadline(tmp_path, serve, monkeypatch):
    monkeypatch.setattr(download, "DEADLINE_SECONDS", 1)
    server = serve(endless(limit=64 * 1024, pause=0.05))
    with pytest.raises(DownloadError, match="not complete after the 1 s deadline"):
        fetch_verified(server.url, tmp_path / "a", "md5", None, "data.url", max_bytes=2 * MIB)
    assert server.requests == 1 and list(tmp_path.iterdir()) == []


def test_wrong_checksum_is_not_retried(tmp_path, serve):
    source = tmp_path / "src.tar.gz"
    write_archive(source)
    server = serve(file_body(source.read_bytes()))
    with pytest.raises(DownloadError, match="config key data.url, data.md5"):
        download_cifar(server.url, "0" * 32, tmp_path / "out" / "a.tar.gz", logging.getLogger())
    assert server.requests == 1 and list((tmp_path / "out").iterdir()) == []


def test_not_an_archive_is_not_retried(tmp_path, serve):
    raw = b"<html>a captive portal page</html>"
    server = serve(file_body(raw))
    md5 = hashlib.md5(raw).hexdigest()
    with pytest.raises(DownloadError, match="is not a readable .tar.gz archive"):
        download_cifar(server.url, md5, tmp_path / "out" / "a.tar.gz", logging.getLogger())
    assert server.requests == 1 and list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("code, requests", [(503, download.ATTEMPTS), (404, 1)])
def test_only_transient_http_errors_are_retried(tmp_path, serve, code, requests):
    server = serve(status(code))
    with pytest.raises(DownloadError, match=f"HTTP {code}.*set data.url to its local path"):
        fetch_verified(server.url, tmp_path / "a", "md5", None, "data.url", max_bytes=MIB)
    assert server.requests == requests and list(tmp_path.iterdir()) == []


def test_local_file_over_the_ceiling_is_refused_up_front(tmp_path):
    big = tmp_path / "big.tar.gz"
    with open(big, "wb") as handle:
        handle.truncate(CIFAR_MAX_BYTES + 1)  # sparse: no disk used
    target = tmp_path / "out" / "a.tar.gz"
    with pytest.raises(DownloadError, match=f"data.url: .* has {CIFAR_MAX_BYTES + 1} bytes"):
        download_cifar(str(big), "0" * 32, target, logging.getLogger())
    assert list(target.parent.iterdir()) == []


def test_weights_file_over_its_known_size_is_refused(tmp_path, monkeypatch):
    name = "alexnet_imagenet1k_v1"
    entry = {**weights.OFFICIAL_WEIGHTS[name], "max_bytes": 1000}
    monkeypatch.setitem(weights.OFFICIAL_WEIGHTS, name, entry)
    source = tmp_path / "alexnet-owt-7be5be79.pth"
    source.write_bytes(bytes(2000))
    target = tmp_path / "out" / "alexnet.pth"
    with pytest.raises(DownloadError, match=f"weights.sources.{name}.url: .* more than the 1000"):
        weights.fetch_weights(name, str(source), target, True, tmp_path / "lock.json")
    assert list(target.parent.iterdir()) == []


def test_partial_file_of_a_killed_fetch_is_removed(tmp_path):
    source = tmp_path / "src.tar.gz"
    md5 = write_archive(source)
    target = tmp_path / "out" / "cifar-10-python.tar.gz"
    target.parent.mkdir()
    (target.parent / ".cifar-10-python.tar.gz.k1ll3d.partial").write_bytes(bytes(1000))
    download_cifar(str(source), md5, target, logging.getLogger())
    assert [p.name for p in target.parent.iterdir()] == [target.name]


SIGNED = "?X-Amz-Signature=AMZSIG0123&X-Amz-Credential=KEYID42#tok3n"
SECRETS = ["s3cretPass", "AMZSIG0123", "KEYID42", "tok3n"]


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://u:s3cretPass@host.example/a/b.tar.gz", "https://***@host.example/a/b.tar.gz"),
        (
            f"https://host.example:8443/b.tar.gz{SIGNED}",
            "https://host.example:8443/b.tar.gz?***#***",
        ),
        ("http://host.example/b.h5#token=tok3n", "http://host.example/b.h5#***"),
        ("file:///data/cifar.tar.gz", "file:///data/cifar.tar.gz"),
        ("/data/odd?name#.tar.gz", "/data/odd?name#.tar.gz"),  # a local path is kept
    ],
)
def test_redact_url_keeps_where_and_drops_credentials(url, shown):
    assert redact_url(url) == shown


def logger_to(path):
    logger, handler = logging.getLogger(f"secrets.{path}"), logging.FileHandler(path)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def test_a_signed_url_is_fetched_whole_but_never_logged_or_recorded(tmp_path, serve):
    source = tmp_path / "src.tar.gz"
    md5 = write_archive(source)
    requested = []

    def recording(handler, server):
        requested.append(handler.path)
        file_body(source.read_bytes())(handler, server)

    server = serve(recording)
    target = tmp_path / "download" / "cifar-10-python.tar.gz"
    log = tmp_path / "download_cifar.log"
    download_cifar(server.url + SIGNED, md5, target, logger_to(log))
    record = tmp_path / "download" / "provenance.json"
    write_download_provenance(record, server.url + SIGNED, target, md5)
    assert requested == ["/cifar-10-python.tar.gz" + SIGNED.split("#")[0]]  # the full URL
    assert json.loads(record.read_text())["url"] == server.url + "?***#***"
    for secret in SECRETS:
        assert secret not in log.read_text() and secret not in record.read_text(), secret


def test_credentials_stay_out_of_refusals_and_the_weights_record(tmp_path, serve):
    with pytest.raises(DownloadError) as refused:  # http.client quotes 's3cretPass@127...'
        fetch_verified(
            "http://u:s3cretPass@127.0.0.1/x", tmp_path / "a", "md5", None, "data.url", max_bytes=10
        )
    assert "http://***@127.0.0.1/x" in str(refused.value) and "***@127.0.0.1'" in str(refused.value)
    source = tmp_path / "vgg16.h5"
    source.write_bytes(b"not Keras' file")
    url = serve(file_body(source.read_bytes())).url + SIGNED
    name = "vgg16_imagenet_no_top"
    with pytest.raises(weights.UnofficialWeightsError) as refused:
        weights.fetch_weights(name, url, tmp_path / "w.h5", False)
    record = weights.fetch_weights(name, url, tmp_path / "w.h5", True)
    assert record["source"].endswith("/cifar-10-python.tar.gz?***#***")
    for secret in SECRETS:
        assert secret not in str(refused.value) and secret not in json.dumps(record), secret
