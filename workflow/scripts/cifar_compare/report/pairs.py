"""Named pairs of models of one finished run, compared with the report's own statistics
(cifar_compare.report.stats): for a question the report does not ask itself, such as
the same recipe trained in two precisions (workflow/scripts/compare_models.py)."""

import statistics

from cifar_compare.report import format as fmt
from cifar_compare.report.stats import accuracy_interval, adjusted, compare


def per_seed_line(result):
    """'name: 72.10, 72.50, 71.90; mean 72.17 ± 0.31 (sd), 95 % 71.40–72.94'."""
    accuracies = [r["test_accuracy"] for r in result.records]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else None
    values = ", ".join(fmt.percent(a) for a in accuracies)
    interval = fmt.interval_text(accuracy_interval(result))
    return (
        f"{result.name} ({len(accuracies)} seeds): {values}; mean "
        f"{fmt.accuracy_text(statistics.fmean(accuracies), spread)} (sd), 95 % {interval}"
    )


def pair_lines(results, pairs):
    """One line per model of `pairs` ((first, second) names of `results`), then one per
    pair: the difference, its interval and test, Holm-adjusted over the pairs given."""
    by_name = {r.name: r for r in results}
    missing = sorted({n for pair in pairs for n in pair} - set(by_name))
    if missing:
        raise ValueError(f"no metrics for {', '.join(missing)}; found {', '.join(by_name)}")
    names = dict.fromkeys(n for pair in pairs for n in pair)
    lines = [per_seed_line(by_name[name]) for name in names]
    tests = adjusted([compare(by_name[a], by_name[b], "pair") for a, b in pairs])
    for c in tests:
        kind = "t over training runs" if c.over_runs else "McNemar, test images only"
        lines.append(
            f"{c.first} - {c.second}: {fmt.signed_points(c.difference.estimate)} points "
            f"(95 % {fmt.difference_interval(c.difference)}); {kind} p = "
            f"{fmt.p_value(c.p_value)}, Holm-adjusted {fmt.p_value(c.adjusted_p)} "
            f"({'distinguishable' if c.significant else 'not distinguishable'} at 5 %); "
            f"McNemar (test images only, largest over seed pairs) {fmt.p_value(c.mcnemar_p)}"
        )
    return lines
