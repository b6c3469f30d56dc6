"""The evaluate rule of either framework (cifar_compare.adapter.Framework): test-set
predictions, the metrics and the metrics record."""

from functools import partial

from cifar_compare.adapter import Framework
from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.data.dataset import load_prepared
from cifar_compare.fileio import write_json_atomic
from cifar_compare.metrics import (
    data_provenance,
    metrics_record,
    prediction_metrics,
    test_time_predictions,
    validate_metrics,
)
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.logs import errors_logged, open_log
from cifar_compare.runtime.precision import PRECISIONS


def evaluate(adapter, record, inputs, threads, data_md5, policy, study_policy):
    """(test-set metrics, evaluation device name) of the model that `record` describes,
    scored under `policy` (test_time_flip, test_time_shift); `study_policy`: the study's
    evaluation settings, recorded beside the model's own so that a per-model override
    shows in the report."""
    config = record["model_config"]
    # In the precision it was trained in (fp32 for records from before it was recorded).
    device = adapter.start(config, threads, record["train_summary"].get("precision", "fp32"))
    model = adapter.load(record, inputs)
    splits, class_names = load_prepared(inputs.prepared, ("test",))
    images, labels = splits["test"].images, splits["test"].labels
    adapter.predict(model, images[: config["batch_size"]])  # warm-up, not timed
    logits, seconds = test_time_predictions(
        partial(adapter.predict, model),
        images,
        policy["test_time_flip"],
        policy["test_time_shift"],
    )
    metrics = prediction_metrics(labels, logits, class_names)
    metrics.update(policy)
    metrics.update({f"study_{key}": value for key, value in study_policy.items()})
    metrics["data"] = data_provenance(data_md5, images, labels)
    metrics["inference_images_per_second"] = len(labels) / seconds
    metrics["parameters"], rows = adapter.layers(model)
    metrics["layers"] = [
        {"type": kind, "output_shape": list(shape), "parameters": params}
        for kind, shape, params in rows
    ]
    return metrics, device


class BadCheckpointRecord(ValueError):
    pass


def check_record(record, expected, where):
    """Refuse a checkpoint record that is not the one this job's train rule wrote for
    the `expected` fields (model, seed, architecture, classes, recipe): a model and a
    backend are built from it before anything else reads it."""
    if not isinstance(record, dict):
        raise BadCheckpointRecord(f"{where}: not a checkpoint record (a mapping)")
    for key, value in expected.items():
        if record.get(key) != value:
            raise BadCheckpointRecord(
                f"{where}: {key} is not what the config says for this model and seed; "
                "delete the file to train it again"
            )
    summary = record.get("train_summary")
    if not (isinstance(summary, dict) and summary.get("precision", "fp32") in PRECISIONS):
        raise BadCheckpointRecord(f"{where}: train_summary.precision is not one of {PRECISIONS}")


def expected_record(snakemake):
    """What the job's train rule records, from the evaluate rule's wildcards and params."""
    recipe = snakemake.params.model_config
    return {
        "model_name": snakemake.wildcards.model,
        "seed": int(snakemake.wildcards.seed),
        "architecture": recipe["architecture"],
        "num_classes": NUM_CLASSES,
        "model_config": recipe,
    }


def evaluate_job(snakemake, adapter: Framework):
    """One model and seed: its checkpoint in, its validated metrics JSON out."""
    log = open_log(snakemake.log[0])
    with gpu_slot(log), errors_logged(log):
        record = adapter.read_record(snakemake.input)
        where = snakemake.input.get("record", snakemake.input.checkpoint)
        check_record(record, expected_record(snakemake), where)
        params = snakemake.params
        metrics, device = evaluate(
            adapter,
            record,
            snakemake.input,
            snakemake.threads,
            params.data_md5,
            params.evaluation,
            params.study_evaluation,
        )
        result = metrics_record(metrics, record, adapter.name, device, adapter.versions())
        validate_metrics(result)
        write_json_atomic(snakemake.output.metrics, result)
        log.info("test accuracy %.4f", result["test_accuracy"])
