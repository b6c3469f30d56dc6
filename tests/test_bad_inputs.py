"""The bad-input suite through the real workflow: one Snakemake run per kind of failure (a
download, the prepare job, the config, a training job, the results folder) shows the error
reaching the console, nothing lost and no half-written result left behind.

The many cases of each kind are checked where they are decided, without Snakemake:
archives in test_archive.py and test_hostile_archive.py, downloads and weights in
test_download.py and test_hostile_download.py, config values in test_config_check.py and
in test_config_values_are_refused_with_the_key below.
"""

import copy
import re

import pytest
import yaml
from cifar_compare.config import ConfigError, load_study_config
from conftest import REPO, TWO_JOBS_AT_A_TIME, inputs_overlay, snakemake, write_overlay

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


def run_prepare(workdir, overlay, *options):
    write_overlay(workdir / "inputs.yaml", overlay)
    # Targets go before --configfile, which takes every argument after it.
    return snakemake(
        workdir, *options, PREPARED, "--configfile", "config/test.yaml", "inputs.yaml", check=False
    )


def assert_failed_cleanly(workdir, done, message):
    assert done.returncode != 0
    assert message in done.stdout, done.stdout[-3000:]
    assert not (workdir / PREPARED).exists()
    assert not list((workdir / "results").rglob("*.partial"))


@pytest.mark.pipeline
def test_a_download_that_fails_its_checksum_is_not_retried_and_leaves_nothing(workdir, test_inputs):
    overlay = inputs_overlay(test_inputs)
    overlay["data"]["md5"] = "0" * 32
    done = run_prepare(workdir, overlay, "--retries", "2")
    assert_failed_cleanly(workdir, done, "expected 00000000000000000000000000000000")
    assert done.stdout.count("Error in rule download_cifar") == 1, done.stdout[-3000:]
    assert "(config key data.url, data.md5)" in done.stdout
    assert not (workdir / "results/download/cifar-10-python.tar.gz").exists()


@pytest.mark.pipeline
def test_an_archive_that_crashes_numpy_is_refused_by_the_prepare_job(
    workdir, tmp_path, test_inputs
):
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


ALIAS_BOMB = (
    'a0: &a0 ["xxxxxxxxxx"]\n'
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    + "data:\n  url: *a9\n"
)
MOVED_LOCK_FILE = (
    "weights:\n  allow_unofficial: false\n  lock_file: my-pins.json\n"
    "  sources:\n    alexnet_imagenet1k_v1: {url: my-weights.pth}\n"
)
KERAS_MODEL_WITH_PYTORCH_WEIGHTS = (
    "models:\n  mobilenetv2_pretrained_keras:\n    weights: alexnet_imagenet1k_v1\n"
)


@pytest.mark.parametrize(
    "text, message",
    [
        (ALIAS_BOMB, "abuse.yaml, key a4: expands to more than 10000 values"),
        (
            'models:\n  "bad\\n": {enabled: false}\n',
            "key models: 'bad\\n' does not match '^[A-Za-z0-9][A-Za-z0-9_]*$'",
        ),
        (MOVED_LOCK_FILE, "key weights.lock_file: not settable"),
    ],
    ids=["alias-bomb", "newline-in-model-name", "moved-lock-file"],
)
def test_a_bad_config_stops_before_any_job(workdir, text, message):
    (workdir / "abuse.yaml").write_text(text)  # no inputs needed: nothing may run
    done = snakemake(
        workdir, PREPARED, "--configfile", "config/test.yaml", "abuse.yaml", check=False
    )
    assert done.returncode != 0
    assert "invalid configuration, " in done.stdout and message in done.stdout, done.stdout[-2000:]
    assert "xxxxxxxxxx" not in done.stdout
    assert not (workdir / "results").exists()


def test_a_config_file_name_a_shell_would_run_stops_before_any_job(workdir):
    """The SLURM executor passes job command lines through a shell in double quotes."""
    name = "x$(touch pwned).yaml"
    (workdir / name).write_text("{}\n")
    done = snakemake(workdir, PREPARED, "--configfile", "config/test.yaml", name, check=False)
    assert done.returncode != 0
    assert f"invalid configuration, config file {workdir / name}: '$' in its path" in done.stdout
    assert not (workdir / "pwned").exists() and not (workdir / "results").exists()


def test_a_symlinked_folder_in_results_stops_before_any_job(workdir, tmp_path):
    """Snakemake deletes a job's old outputs before it runs: through a link, elsewhere."""
    outside = tmp_path / "elsewhere"
    (outside / "seed0").mkdir(parents=True)
    (outside / "seed0" / "history.csv").write_text("not results")
    (workdir / "results/models").mkdir(parents=True)
    (workdir / "results/models/alexnet_scratch_pytorch").symlink_to(outside)
    done = snakemake(workdir, "--configfile", "config/test.yaml", check=False)
    assert done.returncode != 0
    link = "results/models/alexnet_scratch_pytorch is a symbolic link (to "
    assert f"results folder: {link}" in done.stdout, done.stdout[-2000:]
    assert [p.name for p in outside.rglob("*")] == ["seed0", "history.csv"]
    assert sorted(p.name for p in (workdir / "results").rglob("*")) == [
        "alexnet_scratch_pytorch",
        "models",
    ]


def test_a_baseline_that_fails_the_metrics_schema_stops_before_any_job(workdir, tmp_path):
    bad = tmp_path / "baseline" / "metrics" / "some_model" / "seed0.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"model": "some_model"}')
    write_overlay(workdir / "baseline.yaml", {"report": {"baseline": str(bad.parents[2])}})
    done = snakemake(
        workdir, PREPARED, "--configfile", "config/test.yaml", "baseline.yaml", check=False
    )
    assert done.returncode != 0
    message = f"key report.baseline: metrics file {bad}: metrics record invalid at (top level)"
    assert message in done.stdout, done.stdout[-2000:]
    assert not (workdir / "results").exists()


def checked_config(overlay_path):
    """The tiny study with an overlay, through the checks common.smk runs."""
    return load_study_config([REPO / "config/test.yaml", overlay_path])


CONFIG_VALUES = {
    "duplicate-key": (
        "data:\n  split_seed: 1\n  split_seed: 2\n",
        "overlay.yaml, key data.split_seed: the key appears twice",
    ),
    "not-an-integer": (
        "models:\n  alexnet_scratch_pytorch:\n    batch_size: big\n",
        "key models.alexnet_scratch_pytorch.batch_size: 'big' is not of type 'integer'",
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
    "input-too-small": (
        "models:\n  alexnet_pretrained_pytorch:\n    input_size: 40\n",
        "key models.alexnet_pretrained_pytorch.input_size: 40 is less than the minimum of 63",
    ),
    "unknown-architecture": (  # complete but for its architecture
        yaml.safe_dump({"models": {"my_vgg": {**COMPLETE_ENTRY, "architecture": "vgg19"}}}),
        "key models.my_vgg.architecture: 'vgg19' is not one of ['alexnet', 'alexnet_cifar'",
    ),
    "weights-of-another-framework": (
        KERAS_MODEL_WITH_PYTORCH_WEIGHTS,
        "key models.mobilenetv2_pretrained_keras.weights: 'alexnet_imagenet1k_v1' is not "
        "a known keras weights file",
    ),
    "unknown-framework": (
        "models:\n  alexnet_scratch_keras:\n    framework: tensorflow\n",
        "key models.alexnet_scratch_keras.framework: 'tensorflow' is not one of",
    ),
    "moved-lock-file": (  # its own pins would make its own weights file "official"
        MOVED_LOCK_FILE,
        "key weights.lock_file: not settable; weights are always checked against "
        "config/weights.lock.json",
    ),
}


@pytest.mark.parametrize("text, message", CONFIG_VALUES.values(), ids=CONFIG_VALUES.keys())
def test_config_values_are_refused_with_the_key(tmp_path, text, message):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(text)
    with pytest.raises(ConfigError) as refused:
        checked_config(overlay)
    assert message in str(refused.value)


def test_a_complete_new_model_entry_is_valid(tmp_path):
    """The base of the unknown-architecture case passes with a known architecture."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"models": {"my_vgg": copy.deepcopy(COMPLETE_ENTRY)}}))
    assert checked_config(overlay)["models"]["my_vgg"]["enabled"] is True


@pytest.mark.pipeline
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
        workdir,
        *TWO_JOBS_AT_A_TIME,
        "--keep-going",
        "--configfile",
        "config/test.yaml",
        "inputs.yaml",
        check=False,
    )
    assert done.returncode != 0
    for model in ("alexnet_scratch_pytorch", "alexnet_scratch_keras"):
        log = (workdir / f"results/logs/train/{model}/seed0.log").read_text()
        assert re.search(rf"model {model}, seed 0: training loss became (nan|inf) in epoch 1", log)
        assert not (workdir / f"results/models/{model}/seed0/history.csv").exists()
        assert not (workdir / f"results/metrics/{model}/seed0.json").exists()
    assert not (workdir / "results/tables/summary.csv").exists()
    assert not (workdir / "results/report.pdf").exists()


@pytest.mark.pipeline
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
