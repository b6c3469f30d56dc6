"""Bad inputs through the real workflow: a clear error, and no result file left behind."""

import pytest
from cifar_fixtures import write_archive
from conftest import inputs_overlay, snakemake, write_overlay

pytestmark = pytest.mark.pipeline
PREPARED = "results/data/cifar10.npz"


def run_prepare(workdir, overlay):
    write_overlay(workdir / "inputs.yaml", overlay)
    # Targets go before --configfile, which takes every argument after it.
    return snakemake(
        workdir, PREPARED, "--configfile", "config/test.yaml", "inputs.yaml", check=False
    )


def assert_failed_cleanly(workdir, done, message):
    assert done.returncode != 0
    assert message in done.stdout, done.stdout[-3000:]
    assert not (workdir / PREPARED).exists()
    assert not list((workdir / "results").rglob("*.partial"))


def test_wrong_md5(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    overlay["data"]["md5"] = "0" * 32
    done = run_prepare(workdir, overlay)
    assert_failed_cleanly(workdir, done, "expected 00000000000000000000000000000000")
    assert not (workdir / "results/download/cifar-10-python.tar.gz").exists()


def test_truncated_archive(workdir, tmp_path, test_inputs):
    raw = test_inputs["archive"].read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    import hashlib

    overlay = inputs_overlay(
        {**test_inputs, "archive": cut, "md5": hashlib.md5(cut.read_bytes()).hexdigest()}
    )
    done = run_prepare(workdir, overlay)
    assert_failed_cleanly(workdir, done, "is not a readable .tar.gz archive")
    assert not (workdir / "results/download/cifar-10-python.tar.gz").exists()


@pytest.mark.parametrize(
    "tamper, message",
    [("dotdot", "escapes the target folder"), ("os_system", "refusing to unpickle posix.system")],
)
def test_malicious_archive(workdir, tmp_path, test_inputs, tamper, message):
    archive = tmp_path / f"{tamper}.tar.gz"
    md5 = write_archive(archive, train_per_class=4, test_per_class=10, tamper=tamper)
    done = run_prepare(workdir, inputs_overlay({**test_inputs, "archive": archive, "md5": md5}))
    assert_failed_cleanly(workdir, done, message)
    assert not (tmp_path / "escaped.txt").exists()


def test_invalid_config_value_stops_before_any_job(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    overlay["models"] = {"alexnet_scratch_pytorch": {"batch_size": "big"}}
    done = run_prepare(workdir, overlay)
    assert done.returncode != 0
    assert (
        "key models.alexnet_scratch_pytorch.batch_size: 'big' is not of type 'integer'"
        in done.stdout
    )
    assert not (workdir / "results").exists()


def test_official_weights_required_unless_allowed(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    overlay["weights"]["allow_unofficial"] = False
    write_overlay(workdir / "inputs.yaml", overlay)
    target = "results/weights/alexnet_imagenet1k_v1.json"
    done = snakemake(
        workdir, target, "--configfile", "config/test.yaml", "inputs.yaml", check=False
    )
    assert done.returncode != 0
    assert "does not match the official alexnet_imagenet1k_v1 weights" in done.stdout
    assert not list((workdir / "results/weights").glob("*.pth"))
