"""The evaluate rule of either framework (cifar_compare.adapter.Framework): test-set
predictions, the metrics and the metrics record."""

import time

from cifar_compare.adapter import Framework
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


def evaluate(adapter, record, inputs, threads, data_md5):
    """(test-set metrics, evaluation device name) of the model that `record` describes."""
    config = record["model_config"]
    # In the precision it was trained in (fp32 for records from before it was recorded).
    device = adapter.start(config, threads, record["train_summary"].get("precision", "fp32"))
    model = adapter.load(record, inputs)
    splits, class_names = load_prepared(inputs.prepared, ("test",))
    images, labels = splits["test"].images, splits["test"].labels
    adapter.predict(model, images[: config["batch_size"]])  # warm-up, not timed
    flip = config.get("test_time_flip", False)
    start = time.perf_counter()
    logits = test_time_predictions(lambda batch: adapter.predict(model, batch), images, flip)
    seconds = time.perf_counter() - start
    metrics = prediction_metrics(labels, logits, class_names)
    metrics["test_time_flip"] = flip
    metrics["data"] = data_provenance(data_md5, images, labels)
    metrics["inference_images_per_second"] = len(labels) / seconds
    metrics["parameters"], rows = adapter.layers(model)
    metrics["layers"] = [
        {"type": kind, "output_shape": list(shape), "parameters": params}
        for kind, shape, params in rows
    ]
    return metrics, device


def evaluate_job(snakemake, adapter: Framework):
    """One model and seed: its checkpoint in, its validated metrics JSON out."""
    log = open_log(snakemake.log[0])
    with gpu_slot(log), errors_logged(log):
        record = adapter.read_record(snakemake.input)
        metrics, device = evaluate(
            adapter, record, snakemake.input, snakemake.threads, snakemake.params.data_md5
        )
        result = metrics_record(metrics, record, adapter.name, device, adapter.versions())
        validate_metrics(result)
        write_json_atomic(snakemake.output.metrics, result)
        log.info("test accuracy %.4f", result["test_accuracy"])
