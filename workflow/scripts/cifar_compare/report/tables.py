"""The report's cells and rows that take more than formatting one field, from ModelResults only."""

import statistics
from collections import Counter

from cifar_compare.report import format as fmt


def recorded(result, key):
    """training.<key> over the model's seeds (precision, device); a dash where not recorded."""
    return ", ".join(sorted({r["training"].get(key) or fmt.DASH for r in result.records}))


def precision_cell(result):
    """The precisions over the model's seeds, with the probe's bf16 speedup where one
    decided (cifar_compare.runtime.precision): 'bf16 (probe 1.69×)'."""
    speedups = [p["bf16_speedup"] for p in probes(result)]
    if not speedups:
        return recorded(result, "precision")
    low, high = min(speedups), max(speedups)
    span = f"{low:.2f}×" if high - low < 0.005 else f"{low:.2f}–{high:.2f}×"
    return f"{recorded(result, 'precision')} (probe {span})"


def probes(result):
    """The precision probes of the model's seeds (none where no probe decided)."""
    return [
        r["training"]["precision_probe"]
        for r in result.records
        if r["training"].get("precision_probe")
    ]


def probe_threshold(results):
    """The bf16 speedup from which a probe chose bf16; None where no probe decided."""
    found = {p["min_bf16_speedup"] for r in results for p in probes(r)}
    return ", ".join(f"{value:g}×" for value in sorted(found)) or None


def views_text(result):
    """How one model's test images were scored, in words."""
    views = ["test-time flip"] if result.test_time_flip else []
    if result.test_time_shift:
        views.append(f"{result.test_time_shift}-pixel test-time shifts")
    return "with " + " and ".join(views) if views else "without test-time flip or shifts"


def evaluation_policy(results):
    """(the study's one test-time policy in words, or None where the models differ;
    a warning naming the models scored otherwise, or None)."""
    scored = {}
    for r in results:
        scored.setdefault(views_text(r), []).append(r.name)
    overridden = [r.name for r in results if r.evaluation_override]
    if not overridden and len(scored) <= 1:
        how = next(iter(scored), "without test-time flip or shifts")
        return f"Every model was scored {how}.", None
    warning = "Evaluation is not the same for every model: " + "; ".join(
        f"{', '.join(names)} {how}" for how, names in scored.items()
    )
    if overridden:
        warning += f" ({', '.join(overridden)} overrode the study's evaluation settings)"
    return None, warning + "; their accuracies are not scored alike."


def shared_device(results):
    """The one training device of every model, or None when they differ."""
    found = {recorded(r, "device") for r in results}
    return found.pop() if len(found) == 1 else None


QUESTIONS = {
    "best": "best against runner-up",
    "pretrained": "pretrained against scratch",
    "framework": "PyTorch against Keras",
    "run": "this run against the baseline",
}


def verdict_cell(comparison):
    """The table's verdict: it follows the adjusted p shown beside it, nothing else."""
    if comparison.significant is None:
        return fmt.DASH
    if not comparison.significant:
        return "not distinguishable"
    ahead = "ahead" if comparison.difference.estimate > 0 else "behind"
    return ahead if comparison.over_runs else f"{ahead} (test images only)"


def comparison_rows(comparisons):
    return [
        {
            "question": QUESTIONS[c.kind],
            "first": c.first,
            "second": c.second,
            "difference": fmt.signed_points(c.difference.estimate),
            "interval": fmt.difference_interval(c.difference),
            "test": "t over runs" if c.over_runs else "McNemar",
            "adjusted_p": fmt.p_value(c.adjusted_p),
            "verdict": verdict_cell(c),
            "discordant": "; ".join(f"{a} / {b}" for a, b in c.discordant) or fmt.DASH,
            "mcnemar_p": fmt.p_value(c.mcnemar_p),
        }
        for c in comparisons
    ]


def per_class_accuracy(result):
    """Class name -> accuracy averaged over the model's seeds."""
    names = result.records[0]["class_names"]
    return {
        name: statistics.fmean(rec["per_class_accuracy"][name] for rec in result.records)
        for name in names
    }


def layer_counts(record):
    """Layer type -> how many, in first-seen order (for models too deep to list)."""
    counts = Counter(layer["type"] for layer in record["layers"])
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def recipe_text(config, seeds):
    optimizer = config.get("optimizer", {})
    schedule = config.get("schedule", {})
    augmentation = config.get("augmentation", {})
    return (
        f"Input {config['input_size']} px, {config['epochs']} epochs, batch "
        f"{config['batch_size']}, optimizer {optimizer.get('name')} (lr {optimizer.get('lr')}), "
        f"schedule {schedule.get('name')}, augmentation: crop padding "
        f"{augmentation.get('crop_padding')}, flip {augmentation.get('flip')}; "
        f"seeds {', '.join(str(s) for s in seeds)}."
    )


def training_phases(config):
    """How a pretrained model was trained: frozen base, fine-tuning phases."""
    fine_tune = config.get("fine_tune")
    if not config.get("freeze_base"):
        return "fine-tuned, all layers"
    if not fine_tune:
        return "frozen base, new head"
    head_epochs = config["epochs"] - fine_tune["epochs"]
    layers = fine_tune["layers"] or "all"
    return (
        f"head only for {head_epochs} epochs, then top {layers} base layers "
        f"at lr {fine_tune['lr']:g} for {fine_tune['epochs']}"
    )


def original_range(entry):
    low, high = entry["accuracy_low"], entry["accuracy_high"]
    return f"~{low} %" if low == high else f"{low}–{high} %"


def versus_original(mean, entry):
    """Where a run's mean accuracy lies against the original range, in words."""
    value = 100 * mean
    low, high = entry["accuracy_low"], entry["accuracy_high"]
    if value < low:
        return f"{low - value:.2f} points below its range"
    if value > high:
        return f"{value - high:.2f} points above its range"
    return "within its range"


def original_rows(results, original):
    return [
        {
            "model": r.name,
            "original": original_range(original["models"][r.name]),
            "original_epochs": str(original["epochs"]),
            "original_input": f"{original['models'][r.name]['input_size']} px",
            "this_run": fmt.accuracy_text(r.accuracy_mean, r.accuracy_std),
            "epochs": str(r.epochs),
            "input": f"{r.input_size} px",
            "verdict": versus_original(r.accuracy_mean, original["models"][r.name]),
        }
        for r in results
        if r.name in original["models"]
    ]


def weights_check(weights):
    """What a weights file was checked against, as a phrase that reads with or without a hash."""
    basis = weights.get("checked_against") or "no recorded check"
    reference = weights.get("official_hash")
    return f"checked against the {basis}: {reference}" if reference else basis
