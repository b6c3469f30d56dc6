"""Pinning weights hashes: an explicit command, safe against concurrent writers."""

import json
import multiprocessing

import pytest
import yaml
from cifar_compare.weights import OFFICIAL_WEIGHTS, pin_sha256
from pin_weights import main

NAMES = sorted(OFFICIAL_WEIGHTS)


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
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"weights": {"lock_file": str(lock)}}))
    copy = tmp_path / "mobilenet.h5"
    copy.write_bytes(b"a local copy of the official file")
    name = "mobilenet_v2_imagenet_no_top_96"
    main([name, "--file", str(copy), "--configfile", str(overlay)])
    sha256 = json.loads(lock.read_text())[name]
    assert len(sha256) == 64 and f"{name}: pinned sha256 {sha256}" in capsys.readouterr().out


def test_pin_command_downloads_the_official_url_when_no_file_is_given(tmp_path, monkeypatch):
    """Without --file the pin is the sha256 of what the official URL serves (here a local
    file standing in for it), fetched bounded by that file's size ceiling."""
    import hashlib

    import pin_weights

    lock = tmp_path / "lock.json"
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"weights": {"lock_file": str(lock)}}))
    served = tmp_path / "served.h5"
    served.write_bytes(b"what the official URL serves")
    name = "mobilenet_v2_imagenet_no_top_96"
    real_entry = pin_weights.official_entry

    def local_entry(weights_name):
        return {**real_entry(weights_name), "url": str(served)}

    monkeypatch.setattr(pin_weights, "official_entry", local_entry)
    main([name, "--configfile", str(overlay)])
    assert json.loads(lock.read_text()) == {name: hashlib.sha256(served.read_bytes()).hexdigest()}
