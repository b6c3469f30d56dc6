"""Evaluate one Keras checkpoint on the test set and write its metrics JSON."""

import time

from cifar_compare.data.dataset import load_prepared
from cifar_compare.fileio import read_json, write_json_atomic
from cifar_compare.keras.runtime import configure, select_backend
from cifar_compare.metrics import (
    classification_metrics,
    data_provenance,
    layer_records,
    metrics_record,
    prediction_metrics,
    softmax_cross_entropy,
    test_time_predictions,
    validate_metrics,
)
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.logs import errors_logged, open_log


def evaluate(checkpoint_path, record, prepared_path, threads, data_md5):
    from cifar_compare.keras.models import count_parameters, get_model, layer_summary
    from cifar_compare.keras.train import predict_logits

    config = record["model_config"]
    # The precision it was trained in (fp32 for records from before it was recorded).
    trained_in = record["train_summary"].get("precision", "fp32")
    device = configure(threads, config["deterministic"], trained_in)
    model, _ = get_model(record["architecture"], config, record["num_classes"])
    model.load_weights(checkpoint_path)
    splits, class_names = load_prepared(prepared_path, ("test",))
    images, labels = splits["test"].images, splits["test"].labels
    batch_size = config["batch_size"]
    predict_logits(model, images[:batch_size], batch_size)  # warm-up, not timed
    start = time.perf_counter()
    flip = config.get("test_time_flip", False)
    logits = test_time_predictions(
        lambda batch: predict_logits(model, batch, batch_size), images, flip
    )
    seconds = time.perf_counter() - start
    metrics = classification_metrics(labels, logits.argmax(1), class_names)
    metrics["test_loss"] = softmax_cross_entropy(logits, labels)
    metrics["test_time_flip"] = flip
    metrics.update(prediction_metrics(labels, logits))
    metrics["data"] = data_provenance(data_md5, images, labels)
    metrics["inference_images_per_second"] = len(labels) / seconds
    metrics["parameters"] = count_parameters(model)
    metrics["layers"] = layer_records(layer_summary(model))
    return metrics, device


if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with gpu_slot(snakemake.log[0]), errors_logged(logger):
        record = read_json(snakemake.input.record)
        select_backend(record["model_config"]["backend"])
        metrics, device = evaluate(
            snakemake.input.checkpoint,
            record,
            snakemake.input.prepared,
            snakemake.threads,
            snakemake.params.data_md5,
        )
        from train_keras import keras_versions

        result = metrics_record(metrics, record, "keras", device, keras_versions())
        validate_metrics(result)
        write_json_atomic(snakemake.output.metrics, result)
        logger.info("test accuracy %.4f", result["test_accuracy"])
