"""Evaluate one PyTorch checkpoint on the test set and write its metrics JSON."""

import time

import torch
from cifar_compare.data.dataset import load_prepared
from cifar_compare.fileio import write_json_atomic
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
from cifar_compare.pytorch.checkpoint import device_from_env, device_name, load_checkpoint
from cifar_compare.pytorch.data import to_device_images
from cifar_compare.pytorch.models import count_parameters, layer_summary
from cifar_compare.pytorch.train import predict
from cifar_compare.runtime.gpu_slots import gpu_slot
from cifar_compare.runtime.logs import errors_logged, open_log
from cifar_compare.runtime.resources import library_versions


def evaluate(checkpoint_path, prepared_path, device, data_md5):
    model, recipe, record = load_checkpoint(checkpoint_path, device)
    splits, class_names = load_prepared(prepared_path, ("test",))
    test = splits["test"]
    warm_up = to_device_images(test.images[: recipe.eval_batch_size], device)
    predict(model, warm_up, recipe)  # warm-up, not timed
    start = time.perf_counter()
    logits = test_time_predictions(
        lambda batch: predict(model, to_device_images(batch, device), recipe).cpu().numpy(),
        test.images,
        recipe.test_time_flip,
    )
    seconds = time.perf_counter() - start
    metrics = classification_metrics(test.labels, logits.argmax(1), class_names)
    metrics["test_loss"] = softmax_cross_entropy(logits, test.labels)
    metrics["test_time_flip"] = recipe.test_time_flip
    metrics.update(prediction_metrics(test.labels, logits))
    metrics["data"] = data_provenance(data_md5, test.images, test.labels)
    metrics["inference_images_per_second"] = len(test.labels) / seconds
    metrics["parameters"] = count_parameters(model)
    metrics["layers"] = layer_records(layer_summary(model.cpu(), recipe.input_size))
    return metrics, record


if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with gpu_slot(snakemake.log[0]), errors_logged(logger):
        torch.set_num_threads(snakemake.threads)
        device = device_from_env()
        metrics, record = evaluate(
            snakemake.input.checkpoint, snakemake.input.prepared, device, snakemake.params.data_md5
        )
        import torchvision

        versions = library_versions(torch, torchvision)
        result = metrics_record(metrics, record, "pytorch", device_name(device), versions)
        validate_metrics(result)
        write_json_atomic(snakemake.output.metrics, result)
        logger.info("test accuracy %.4f", result["test_accuracy"])
