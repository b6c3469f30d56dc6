"""Everything the report template shows, as one dictionary built from the run's results
(the template formats plain fields of the results itself, with render.py's filters)."""

from cifar_compare.report import format as fmt
from cifar_compare.report import tables
from cifar_compare.report.conclusions import conclusions, findings, weights_warnings
from cifar_compare.report.stats import accuracy_interval, study_statistics


def dataset(results):
    """Training and test images per model, each distinct count once: '45,000 / 50,000'."""
    return {
        key: " / ".join(fmt.count(v) for v in sorted({getattr(r, key) for r in results}))
        for key in ("train_images", "test_images")
    }


SETUP = (("epochs", "epochs"), ("input_size", "px input"), ("train_images", "training images"))


def setup_changes(results, earlier):
    """'alexnet_scratch_pytorch: 5 epochs here, 10 in the baseline' per differing model
    (training setup and test-time views)."""
    before = {r.name: r for r in earlier}
    changes = []
    for r, e in ((r, before[r.name]) for r in results if r.name in before):
        differing = [
            f"{fmt.count(getattr(r, key))} {unit} here, "
            f"{fmt.count(getattr(e, key))} in the baseline"
            for key, unit in SETUP
            if getattr(r, key) != getattr(e, key)
        ]
        views = tables.views_text(r), tables.views_text(e)
        if views[0] != views[1]:
            differing.append(f"scored {views[0]} here, {views[1]} in the baseline")
        if differing:
            changes.append(f"{r.name}: {'; '.join(differing)}")
    return changes


def baseline_section(results, baseline, stats):
    """The run-against-run comparison; None without a baseline."""
    if baseline is None:
        return None
    earlier, folder = baseline
    order = {r.name: i for i, r in enumerate(results)}  # shared models in this run's order
    earlier = sorted(earlier, key=lambda e: order.get(e.name, len(order)))
    names = {r.name for r in results}
    return {
        "folder": folder,
        "device": tables.shared_device(earlier),
        "rows": tables.comparison_rows(stats.run_comparisons),
        "results": earlier,
        "intervals": {e.name: accuracy_interval(e) for e in earlier},
        "setup": setup_changes(results, earlier),
        "only_here": [r.name for r in results if r.name not in {e.name for e in earlier}],
        "only_there": [e.name for e in earlier if e.name not in names],
    }


def report_context(results, original, benchmarks, provenance, data, baseline=None, measurements=()):
    """`data`: provenance.data_summary; `baseline`: (ModelResults, folder) or None;
    `measurements`: the run-to-run spreads this project measured (report/spread.py)."""
    if not results:
        raise ValueError("no model has metrics: there is nothing to report")
    stats = study_statistics(results, baseline[0] if baseline else ())
    policy, views_warning = tables.evaluation_policy(results)
    return {
        "classes": results[0].records[0]["class_names"],
        "calibration": stats.calibration,
        "dataset": dataset(results),
        "results": results,
        "answer": " ".join(findings(results, stats, measurements)),
        "intervals": stats.intervals,
        "headline_device": tables.shared_device(results),
        "probe_threshold": tables.probe_threshold(results),
        "comparisons": tables.comparison_rows(stats.comparisons),
        "family_size": stats.family_size,
        "original": original,
        "original_rows": tables.original_rows(results, original),
        "conclusions": conclusions(results, stats, original, data, measurements),
        "evaluation_policy": policy,
        "warnings": [w for w in (data["warning"], views_warning) if w] + weights_warnings(results),
        "data": data,
        "baseline": baseline_section(results, baseline, stats),
        "benchmarks": benchmarks["rows"],
        "study_time": benchmarks["time"],
        "provenance": provenance,
    }
