"""The evaluate rules build a model (and pick a Keras backend) from the record the train
rule wrote beside the weights: a record edited or copied from elsewhere is refused with
one line naming the file, before anything is built from it."""

import copy
import json
from types import SimpleNamespace

import pytest
from cifar_compare.evaluation import BadCheckpointRecord, evaluate_job
from cifar_compare.identity import recipe
from cifar_compare.keras.adapter import Keras

RECIPE = recipe(
    {
        "framework": "keras",
        "architecture": "alexnet_cifar",
        "backend": None,
        "input_size": 32,
        "batch_size": 8,
        "optimizer": {"name": "adam", "lr": 0.001},
    }
)
RECORD = {
    "model_name": "m",
    "seed": 0,
    "architecture": "alexnet_cifar",
    "num_classes": 10,
    "model_config": RECIPE,
    "train_summary": {"precision": "fp32"},
}


class Files(dict):
    __getattr__ = dict.__getitem__


def edited(change):
    record = copy.deepcopy(RECORD)
    change(record)
    return record


@pytest.mark.parametrize(
    "record, message",
    [
        (edited(lambda r: r["model_config"].update(backend="jax")), "model_config is not what"),
        (edited(lambda r: r["model_config"].update(input_size=512)), "model_config is not what"),
        (edited(lambda r: r.update(architecture="vgg16")), "architecture is not what"),
        (edited(lambda r: r.update(num_classes=10**6)), "num_classes is not what"),
        (edited(lambda r: r.update(seed=1)), "seed is not what"),
        (
            edited(lambda r: r["train_summary"].update(precision="fp8")),
            "train_summary.precision is not one",
        ),
        ([], "not a checkpoint record"),
    ],
    ids=["backend", "input-size", "architecture", "classes", "seed", "precision", "a-list"],
)
def test_a_keras_record_unlike_the_config_is_refused(tmp_path, monkeypatch, record, message):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU slot to claim
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(record))
    job = SimpleNamespace(
        log=[str(tmp_path / "evaluate.log")],
        input=Files(record=str(path), checkpoint=str(tmp_path / "checkpoint.weights.h5")),
        params=SimpleNamespace(model_config=RECIPE, data_md5="0" * 32),
        wildcards=SimpleNamespace(model="m", seed="0"),
        output=Files(metrics=str(tmp_path / "metrics.json")),
        threads=1,
    )
    with pytest.raises(BadCheckpointRecord) as refused:
        evaluate_job(job, Keras())
    assert str(refused.value).startswith(f"{path}: {message}")
    assert str(refused.value) in (tmp_path / "evaluate.log").read_text()
    assert not (tmp_path / "metrics.json").exists()


def test_the_record_the_train_rule_writes_passes():
    from cifar_compare.evaluation import check_record

    check_record(copy.deepcopy(RECORD), {k: RECORD[k] for k in RECORD if k != "train_summary"}, "x")
