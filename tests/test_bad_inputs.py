"""The bad-input suite: every bad input through the real workflow gives a clear error,
loses nothing and leaves no half-written result behind."""

import re

import pytest
from cifar_fixtures import write_archive
from conftest import inputs_overlay, snakemake, write_overlay

pytestmark = pytest.mark.pipeline
PREPARED = "results/data/cifar10.npz"
# A model entry with every required key, valid as it stands.
COMPLETE_ENTRY = {
    "framework": "pytorch",
    "architecture": "alexnet_cifar",
    "pretrained": False,
    "input_size": 32,
    "epochs": 1,
    "batch_size": 8,
    "optimizer": {"name": "adam", "lr": 0.001},
    "seeds": [0],
}


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


def test_permanent_download_failure_is_not_retried(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    overlay["data"]["md5"] = "0" * 32
    write_overlay(workdir / "inputs.yaml", overlay)
    target = "results/download/cifar-10-python.tar.gz"
    done = snakemake(
        workdir,
        "--retries",
        "2",
        target,
        "--configfile",
        "config/test.yaml",
        "inputs.yaml",
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout.count("Error in rule download_cifar") == 1, done.stdout[-3000:]
    assert "(config key data.url, data.md5)" in done.stdout


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
    [
        ("dotdot", "escapes the target folder"),
        ("symlink", "is a link or device"),
        ("os_system", "refusing to unpickle posix.system"),
        ("extra_class", "labels outside 0..9"),
        ("missing_class", "classes [9] have no examples"),
        ("wrong_shape", "images must be uint8 of shape (N, 3072)"),
    ],
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


CONFIG_ABUSE = {
    "alias-bomb": (
        'a0: &a0 ["xxxxxxxxxx"]\n'
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
        + "data:\n  url: *a9\n",
        "abuse.yaml, key a4: expands to more than 10000 values",
    ),
    "duplicate-key": (
        "data:\n  split_seed: 1\n  split_seed: 2\n",
        "abuse.yaml, key data.split_seed: the key appears twice",
    ),
    "float-seed": (
        "models:\n  alexnet_scratch_pytorch:\n    seeds: [1.0]\n",
        "key models.alexnet_scratch_pytorch.seeds.0: 1.0 is not of type 'integer'",
    ),
    "nan-rate": (
        "models:\n  alexnet_scratch_pytorch:\n    optimizer: {name: sgd, lr: .nan}\n",
        "key models.alexnet_scratch_pytorch.optimizer.lr: nan is not a finite number",
    ),
    "empty-validation": (
        "data:\n  train_per_class: 2\n",
        "key data.validation_fraction: 0.2 of data.train_per_class 2 holds out 0 images",
    ),
    "unknown-source": (
        "weights:\n  sources:\n    alexnet_v2: {url: /x}\n",
        "key weights.sources.alexnet_v2: not a known weights name",
    ),
}


@pytest.mark.parametrize("text, message", CONFIG_ABUSE.values(), ids=CONFIG_ABUSE.keys())
def test_config_abuse_stops_before_any_job(workdir, test_inputs, text, message):
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    (workdir / "abuse.yaml").write_text(text)
    done = snakemake(
        workdir,
        PREPARED,
        "--configfile",
        "config/test.yaml",
        "inputs.yaml",
        "abuse.yaml",
        check=False,
    )
    assert done.returncode != 0
    assert "invalid configuration, " in done.stdout and message in done.stdout, done.stdout[-2000:]
    assert "xxxxxxxxxx" not in done.stdout
    assert not (workdir / "results").exists()


def test_archive_replaced_after_download_is_refused(workdir, tmp_path, test_inputs):
    write_overlay(workdir / "inputs.yaml", inputs_overlay(test_inputs))
    downloaded = workdir / "results/download/cifar-10-python.tar.gz"
    snakemake(
        workdir,
        str(downloaded.relative_to(workdir)),
        "--configfile",
        "config/test.yaml",
        "inputs.yaml",
    )
    write_archive(tmp_path / "other.tar.gz", train_per_class=4, test_per_class=10, seed=7)
    downloaded.write_bytes((tmp_path / "other.tar.gz").read_bytes())
    done = run_prepare(workdir, inputs_overlay(test_inputs))
    assert_failed_cleanly(workdir, done, f"is not data.md5 {test_inputs['md5']}")


def test_pickle_that_crashes_numpy_is_refused(workdir, tmp_path, test_inputs):
    from hostile_inputs import CraftedArray, batch_pickle, good_members, write_cifar_like

    members = {
        **good_members(20, 10),
        "data_batch_1": batch_pickle(CraftedArray((10**6,), "O", [1, 2]), [0]),
    }
    archive = tmp_path / "crash.tar.gz"
    md5 = write_cifar_like(archive, members)
    done = run_prepare(workdir, inputs_overlay({**test_inputs, "archive": archive, "md5": md5}))
    assert_failed_cleanly(
        workdir,
        done,
        "cifar-10-python.tar.gz, member cifar-10-batches-py/data_batch_1: refusing dtype 'O8'",
    )
    log = (workdir / "results/logs/prepare_data.log").read_text()
    assert "refusing dtype 'O8'" in log


def test_official_weights_required_unless_allowed(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    overlay["weights"]["allow_unofficial"] = False
    write_overlay(workdir / "inputs.yaml", overlay)
    target = "results/weights/alexnet_imagenet1k_v1.pth.json"
    done = snakemake(
        workdir, target, "--configfile", "config/test.yaml", "inputs.yaml", check=False
    )
    assert done.returncode != 0
    assert "is not the official alexnet_imagenet1k_v1 weights" in done.stdout
    assert not list((workdir / "results/weights").glob("*.pth"))


def test_complete_entry_is_valid(workdir, test_inputs):
    """The base of the unknown-architecture case passes with a known architecture."""
    overlay = inputs_overlay(test_inputs)
    overlay["models"] = {"my_vgg": COMPLETE_ENTRY}
    write_overlay(workdir / "inputs.yaml", overlay)
    done = snakemake(workdir, "-n", "--configfile", "config/test.yaml", "inputs.yaml")
    assert "my_vgg" in done.stdout


@pytest.mark.parametrize(
    "models, message",
    [
        (
            {"alexnet_pretrained_pytorch": {"input_size": 40}},
            "key models.alexnet_pretrained_pytorch.input_size: 40 is less than the minimum of 63",
        ),
        (  # complete but for its architecture: only the registry check can stop it
            {"my_vgg": {**COMPLETE_ENTRY, "architecture": "vgg19"}},
            "key models.my_vgg.architecture: 'vgg19' is not one of ['alexnet', 'alexnet_cifar',",
        ),
        (
            {"alexnet_scratch_keras": {"framework": "tensorflow"}},
            "key models.alexnet_scratch_keras.framework: 'tensorflow' is not one of",
        ),
        (
            {"mobilenetv2_pretrained_keras": {"weights": "alexnet_imagenet1k_v1"}},
            "'alexnet_imagenet1k_v1' is not a known keras weights file",
        ),
    ],
)
def test_impossible_model_configs_stop_before_any_job(workdir, test_inputs, models, message):
    overlay = inputs_overlay(test_inputs)
    overlay["models"] = models
    done = run_prepare(workdir, overlay)
    assert done.returncode != 0
    assert message in done.stdout, done.stdout[-2000:]
    assert not (workdir / "results").exists()


def test_nan_loss_stops_with_model_and_epoch(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    exploding = {"optimizer": {"name": "sgd", "lr": 1.0e30}, "epochs": 2}
    overlay["models"] = {
        "alexnet_scratch_pytorch": exploding,
        "alexnet_scratch_keras": exploding,
        "alexnet_pretrained_pytorch": {"enabled": False},
        "mobilenetv2_pretrained_keras": {"enabled": False},
    }
    write_overlay(workdir / "inputs.yaml", overlay)
    done = snakemake(
        workdir, "--keep-going", "--configfile", "config/test.yaml", "inputs.yaml", check=False
    )
    assert done.returncode != 0
    for model in ("alexnet_scratch_pytorch", "alexnet_scratch_keras"):
        log = (workdir / f"results/logs/train/{model}/seed0.log").read_text()
        assert re.search(rf"model {model}, seed 0: training loss became (nan|inf) in epoch 1", log)
        assert not (workdir / f"results/models/{model}/seed0/history.csv").exists()
        assert not (workdir / f"results/metrics/{model}/seed0.json").exists()
    assert not (workdir / "results/tables/summary.csv").exists()
    assert not (workdir / "results/report.pdf").exists()


def test_unwritable_results_folder(workdir, test_inputs):
    (workdir / "results").mkdir()
    (workdir / "results/data").write_text("a file where a folder must be")
    done = run_prepare(workdir, inputs_overlay(test_inputs))
    assert done.returncode != 0
    # The failure is the blocked output path itself, not any other error.
    assert "Not a directory: 'results/data/cifar10.npz'" in done.stdout, done.stdout[-3000:]
    assert (workdir / "results/data").read_text() == "a file where a folder must be"


def test_disk_full_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno

    from cifar_compare.fileio import write_text_atomic

    target = tmp_path / "metrics.json"
    target.write_text("the previous, complete result")

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(target), "write_text", no_space)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, "a new result")
    monkeypatch.undo()
    assert target.read_text() == "the previous, complete result"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
