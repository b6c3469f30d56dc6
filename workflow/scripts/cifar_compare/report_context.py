"""Everything the report template shows, as one dictionary built from the run's results."""

from cifar_compare import report_format as fmt
from cifar_compare import report_tables as tables
from cifar_compare.report_conclusions import conclusions, weights_warnings

FIGURES = {
    "learning_curves": (
        "Learning curves",
        "Training and validation loss (top) and accuracy (bottom) per epoch, one column per "
        "model; lines are the mean over seeds, shaded bands the range between seeds.",
    ),
    "confusion_matrices": (
        "Confusion matrices",
        "Test-set confusion matrix per model (rows: true class, columns: predicted class), "
        "as the share of each true class, counts summed over seeds.",
    ),
    "per_class_accuracy": (
        "Per-class accuracy",
        "Test accuracy per class and model, mean over seeds.",
    ),
    "accuracy_vs_cost": (
        "Accuracy against cost",
        "Mean test accuracy (error bars: standard deviation over seeds) against mean "
        "training time per run (left) and parameter count (right).",
    ),
}


def recipe_text(config):
    optimizer = config.get("optimizer", {})
    schedule = config.get("schedule", {})
    augmentation = config.get("augmentation", {})
    return (
        f"Input {config['input_size']} px, {config['epochs']} epochs, batch "
        f"{config['batch_size']}, optimizer {optimizer.get('name')} (lr {optimizer.get('lr')}), "
        f"schedule {schedule.get('name')}, augmentation: crop padding "
        f"{augmentation.get('crop_padding')}, flip {augmentation.get('flip')}; "
        f"seeds {', '.join(str(s) for s in config.get('seeds', []))}."
    )


def scratch_models(results):
    return [
        {
            "name": r.name,
            "framework": r.framework,
            "summary": recipe_text(r.config),
            "layers": tables.layer_rows(r.records[0]),
            "params": fmt.count(r.params_total),
        }
        for r in results
        if not r.pretrained
    ]


def figures(image_paths):
    """`image_paths`: plot name -> path as the document should reference it."""
    return [
        {"src": image_paths[name], "title": title, "caption": caption}
        for name, (title, caption) in FIGURES.items()
    ]


def dataset(results):
    def values(attribute):
        found = sorted({getattr(r, attribute) for r in results})
        return " / ".join(fmt.count(v) for v in found)

    return {"train_images": values("train_images"), "test_images": values("test_images")}


def report_context(results, original, benchmarks, provenance):
    if not results:
        raise ValueError("no model has metrics: there is nothing to report")
    return {
        "classes": results[0].records[0]["class_names"],
        "dataset": dataset(results),
        "model_names": [r.name for r in results],
        "scratch": scratch_models(results),
        "pretrained": tables.pretrained_rows(results),
        "summary": tables.summary_rows(results),
        "seeds": tables.seed_rows(results),
        "per_class": tables.per_class_rows(results),
        "memory": tables.memory_rows(results),
        "original": original,
        "original_rows": tables.original_rows(results, original),
        "conclusions": conclusions(results, original),
        "warnings": weights_warnings(results),
        "versions": tables.version_rows(results),
        "weights": tables.weights_rows(results),
        "benchmarks": tables.benchmark_rows(benchmarks),
        "provenance": provenance,
    }
