"""Per-model results of a run, gathered from its metrics records (one per model and seed):
the one summary that the tables (cifar_compare.report.summary), the plots and the report read.

Only what the records say: a model without records is not a result, and a record
for a model the run did not configure is refused rather than shown.
"""

import statistics
from dataclasses import dataclass

from cifar_compare.identity import EVALUATION


@dataclass(frozen=True)
class ModelResult:
    name: str
    framework: str
    architecture: str
    pretrained: bool
    input_size: int
    precision: str  # what it trained in
    epochs: int
    seeds: tuple
    accuracy_mean: float
    accuracy_std: float | None  # None with a single seed: no spread is known
    loss_mean: float
    params_total: int
    params_trainable: int
    train_seconds: float
    train_images_per_second: float
    inference_images_per_second: float
    peak_rss_mb: float
    peak_device_mb: float | None
    train_images: int
    test_images: int
    test_time_flip: bool  # scored with each test image's mirror image averaged in
    test_time_shift: int  # and its copies moved this many pixels (0: none)
    evaluation_override: bool  # its own test-time views differed from the study's
    weights: dict | None
    environment: dict | None  # the machine of the first seed's training, where recorded
    config: dict
    records: tuple


def model_result(records):
    """Mean (accuracy, loss, time, throughput) or peak (memory) over a model's seeds."""
    first = records[0]
    accuracies = [r["test_accuracy"] for r in records]
    trainings = [r["training"] for r in records]
    device_peaks = [t["peak_device_memory_mb"] for t in trainings]
    return ModelResult(
        name=first["model"],
        framework=first["framework"],
        architecture=first["architecture"],
        pretrained=bool(first["model_config"]["pretrained"]),
        input_size=first["model_config"]["input_size"],
        precision=first["training"].get("precision", "fp32"),  # fp32 before it was recorded
        epochs=first["model_config"]["epochs"],
        seeds=tuple(r["seed"] for r in records),
        accuracy_mean=statistics.fmean(accuracies),
        accuracy_std=statistics.stdev(accuracies) if len(records) > 1 else None,
        loss_mean=statistics.fmean(r["test_loss"] for r in records),
        params_total=first["parameters"]["total"],
        params_trainable=first["parameters"]["trainable"],
        train_seconds=statistics.fmean(t["wall_seconds"] for t in trainings),
        train_images_per_second=statistics.fmean(t["images_per_second"] for t in trainings),
        inference_images_per_second=statistics.fmean(
            r["inference_images_per_second"] for r in records
        ),
        peak_rss_mb=max(t["peak_rss_mb"] for t in trainings),
        peak_device_mb=max((p for p in device_peaks if p is not None), default=None),
        train_images=first["training"]["train_images"],
        test_images=first["test_images"],
        test_time_flip=bool(first.get("test_time_flip")),
        test_time_shift=first.get("test_time_shift", 0),
        evaluation_override=any(
            r.get(f"study_{key}", r.get(key)) != r.get(key) for r in records for key in EVALUATION
        ),
        weights=first["weights"],
        environment=first["training"].get("environment"),
        config=first["model_config"],
        records=tuple(records),
    )


def model_results(records, configured):
    """One ModelResult per model of `configured` (name -> seeds) that has records, in its order."""
    grouped = {name: [] for name in configured}
    for record in records:
        name, seed = record["model"], record["seed"]
        if name not in configured or seed not in configured[name]:
            raise ValueError(f"metrics for {name} seed {seed}: not part of this run's config")
        grouped[name].append(record)
    return [model_result(sorted(rs, key=lambda r: r["seed"])) for rs in grouped.values() if rs]


def recorded_results(records):
    """ModelResults of another run (a baseline), with every model and seed its records hold."""
    configured = {}
    for record in records:
        configured.setdefault(record["model"], []).append(record["seed"])
    return model_results(records, configured)
