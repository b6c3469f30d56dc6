"""Pinning weights hashes: an explicit command, safe against concurrent writers."""

import hashlib
import json
import multiprocessing
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cifar_compare.config import load_study_config
from cifar_compare.weights import OFFICIAL_WEIGHTS, needs_pin, pin_sha256, read_lock
from hostile_inputs import Server
from pin_weights import main, unpinned_names

NAMES = sorted(OFFICIAL_WEIGHTS)
NAME96 = "mobilenet_v2_imagenet_no_top_96"
KERAS_PATH = "/tensorflow/keras-applications/mobilenet_v2"  # on storage.googleapis.com
QUICK = str(Path(__file__).resolve().parents[1] / "config" / "quick.yaml")


def pin_one(lock, index):
    pin_sha256(lock, NAMES[index], f"{index:064x}")


def test_concurrent_pins_all_land_in_a_valid_file(tmp_path):
    lock = tmp_path / "weights.lock.json"
    lock.write_text("{}")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=pin_one, args=(lock, i)) for i in range(len(NAMES))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0] * len(NAMES)
    assert json.loads(lock.read_text()) == {n: f"{i:064x}" for i, n in enumerate(NAMES)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".weights.lock.json.flock", lock.name]


def test_a_different_pin_is_replaced_only_when_asked(tmp_path):
    lock = tmp_path / "weights.lock.json"
    name = "mobilenet_v2_imagenet_no_top_128"
    assert pin_sha256(lock, name, "a" * 64) is None
    assert pin_sha256(lock, name, "a" * 64) == "a" * 64  # the same pin again: no change
    with pytest.raises(ValueError, match=f"{name} is pinned to sha256 a+, not b+; pass --replace"):
        pin_sha256(lock, name, "b" * 64)
    assert pin_sha256(lock, name, "b" * 64, replace=True) == "a" * 64
    assert json.loads(lock.read_text()) == {name: "b" * 64}
    with pytest.raises(KeyError, match="unknown weights 'nope'"):
        pin_sha256(lock, "nope", "c" * 64)


def test_pin_command_pins_a_local_copy(tmp_path, capsys):
    lock = tmp_path / "lock.json"
    copy = tmp_path / "mobilenet.h5"
    copy.write_bytes(b"a local copy of the official file")
    name = "mobilenet_v2_imagenet_no_top_96"
    main([name, "--file", str(copy)], lock)
    sha256 = json.loads(lock.read_text())[name]
    assert len(sha256) == 64 and f"{name}: pinned sha256 {sha256}" in capsys.readouterr().out


@pytest.fixture
def official_host(monkeypatch):
    """A local HTTP server standing in for the official host of `NAME96`'s weights: the
    official URL keeps its path and gets the server's scheme and address, so pin_weights
    fetches over HTTP as it does from the internet. `start(body)` starts it; the server
    records the paths asked for."""
    servers = []

    def start(body):
        def recording(handler, server):
            server.paths.append(handler.path)
            body(handler, server)

        server = Server(recording)
        server.paths = []
        servers.append(server)
        path = urlsplit(OFFICIAL_WEIGHTS[NAME96]["url"]).path
        monkeypatch.setitem(
            OFFICIAL_WEIGHTS[NAME96], "url", f"{server.url.rsplit('/', 1)[0]}{path}"
        )
        return server, path

    yield start
    for server in servers:
        server.close()


def serving(raw, declared=None):
    def body(handler, server):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(raw) if declared is None else declared))
        handler.end_headers()
        server.send(handler, raw)

    return body


def test_pin_command_downloads_the_official_url_when_no_file_is_given(tmp_path, official_host):
    """Without --file the pin is the sha256 of what the official URL serves."""
    served = b"what the official URL serves"
    server, path = official_host(serving(served))
    lock = tmp_path / "lock.json"
    main([NAME96], lock)
    assert path == f"{KERAS_PATH}/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert server.paths == [path]
    assert json.loads(lock.read_text()) == {NAME96: hashlib.sha256(served).hexdigest()}


def test_the_official_download_is_bounded_by_the_files_own_ceiling(tmp_path, official_host):
    """MobileNetV2's ceiling is 50 MB (10**6 bytes each), not CIFAR's or another file's: a
    server declaring one byte more is refused before a byte is copied; nothing is pinned."""
    server, _ = official_host(serving(b"", declared=50_000_001))
    lock = tmp_path / "lock.json"
    with pytest.raises(RuntimeError, match="declares 50000001 bytes, more than the 50000000 "):
        main([NAME96], lock)
    assert server.requests == 1 and not lock.exists()


def test_alexnet_needs_its_full_sha256_pinned_beside_torchvisions_prefix(tmp_path):
    """torchvision's file name gives 32 bits of the sha256, which can be brute-forced:
    AlexNet is pinned in full in the shipped lock file, and a file without the published
    prefix is never pinned."""
    name = "alexnet_imagenet1k_v1"
    assert needs_pin(name) and needs_pin("mobilenet_v2_imagenet_no_top_224")
    assert not needs_pin("vgg16_imagenet_no_top")  # Keras' md5 is a whole digest
    shipped = read_lock()[name]
    assert re.fullmatch("7be5be79[0-9a-f]{56}", shipped)
    lock = tmp_path / "lock.json"
    impostor = tmp_path / "alexnet-owt-7be5be79.pth"
    impostor.write_bytes(b"not torchvision's file")
    with pytest.raises(ValueError, match=f"{name}: sha256 [0-9a-f]{{64}} does not start with "):
        main([name, "--file", str(impostor)], lock)
    assert not lock.exists()
    assert unpinned_names(load_study_config(), lock) == [name, "mobilenet_v2_imagenet_no_top_224"]


def test_pin_command_fetches_from_the_configs_weights_sources(tmp_path, capsys):
    """An offline machine: without --file, the pin comes from `weights.sources.<name>.url`
    of the study's overlays (here a local file), not from the official URL; a source's
    own `sha256` must match what it serves."""
    lock = tmp_path / "lock.json"
    alexnet = {"alexnet_imagenet1k_v1": read_lock()["alexnet_imagenet1k_v1"]}
    lock.write_text(json.dumps(alexnet))  # as shipped: only MobileNetV2 needs a pin
    local = tmp_path / "mobilenet_96.h5"
    local.write_bytes(b"a copy carried over from a machine with internet")
    name = "mobilenet_v2_imagenet_no_top_96"
    overlay = tmp_path / "offline.yaml"
    sources = {"weights": {"sources": {name: {"url": str(local), "sha256": "0" * 64}}}}
    overlay.write_text(json.dumps(sources))  # JSON is YAML
    with pytest.raises(RuntimeError, match=f"weights.sources.{name}.url"):
        main(["--configfile", QUICK, "--configfile", str(overlay)], lock)
    assert json.loads(lock.read_text()) == alexnet
    del sources["weights"]["sources"][name]["sha256"]
    overlay.write_text(json.dumps(sources))
    main(["--configfile", QUICK, "--configfile", str(overlay)], lock)
    sha256 = hashlib.sha256(local.read_bytes()).hexdigest()
    assert json.loads(lock.read_text()) == {
        **alexnet,
        name: sha256,
    }  # repeated --configfile: both read
    assert f"{name}: pinned sha256 {sha256} (from {local})" in capsys.readouterr().out
