"""Uncertainty of the report's claims, from the per-image test predictions in the metrics.

Two sources of noise, named apart (docs/output.md: How its statistics are computed):
  - the test images: a bootstrap over test images (the same resampled images for every
    seed), BOOTSTRAP_REPLICATES replicates with a fixed seed, gives a standard error;
  - the training runs: with k > 1 seeds, the sample variance of the per-seed accuracies
    / k, estimated from k - 1 degrees of freedom.
An interval is estimate ± t × sqrt(sum of the variances), t the 0.975 quantile of
Student's t with Satterthwaite's degrees of freedom (the test-image term counts as
known). With one seed there is no training-run term: the interval (normal quantile)
covers test-image noise only, and the report says so.

A difference of two models is treated the same way, on the per-image difference of
their seed-averaged correctness (paired, when both were scored on the same test set),
plus both models' seed variances. With 2+ seeds each, its test is that t statistic
(Welch's t-test on the per-seed accuracies, widened by the test-image term); with one
seed on either side only the test images can be judged, by the exact McNemar test.
McNemar is also shown as a detail ("test images only"): with several seeds, seeds are
matched in order and the largest p-value over the pairs is shown.

The p-values a report shows form one family (the study's comparisons and those against
a baseline run), Holm-adjusted; a verdict follows the adjusted p only.
"""

import hashlib
import math
import statistics
from dataclasses import dataclass, field, replace

import numpy as np

from cifar_compare.metrics import decode_labels
from cifar_compare.report import student_t

BOOTSTRAP_REPLICATES = 10000
BOOTSTRAP_SEED = 20260101
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    df: float = math.inf  # of the quantile; inf: no training-run term (test images only)


@dataclass(frozen=True)
class Comparison:
    kind: str  # why the report compares them: "best", "pretrained", "framework", "run"
    first: str
    second: str
    difference: Interval  # first minus second, as fractions
    over_runs: bool  # 2+ seeds each: the test covers training runs as well as test images
    p_value: float | None  # of the verdict's test, unadjusted; None: no test is possible
    mcnemar_p: float | None  # test images only; None when the test sets differ
    discordant: tuple  # (first right only, second right only) per matched seed pair
    adjusted_p: float | None = field(default=None)  # Holm, over the report's family

    @property
    def significant(self):
        return None if self.adjusted_p is None else self.adjusted_p < ALPHA


def correctness(record):
    """One bool per test image: did this model and seed classify it correctly."""
    predictions = record.get("test_predictions")
    if predictions is None:
        raise ValueError(
            f"metrics of {record['model']} seed {record['seed']} have no test_predictions "
            "(written before they were recorded): evaluate that model again"
        )
    return decode_labels(predictions["predicted"]) == decode_labels(predictions["labels"])


def correctness_matrix(result):
    """Seeds × test images, bool."""
    return np.stack([correctness(record) for record in result.records])


def test_set_id(record):
    """Fingerprint of the test set a record was scored on (images and labels; the labels
    alone in records written before the fingerprint was)."""
    recorded = (record.get("data") or {}).get("test_set_sha256")
    return recorded or hashlib.sha256(record["test_predictions"]["labels"].encode()).hexdigest()


def bootstrap_standard_error(values):
    """Standard error of mean(values) from resampling the values with replacement.

    Resampling n values only changes how often each distinct value is drawn, so each
    replicate is one multinomial draw over the distinct values (exactly equivalent,
    and fast). Seeded: the same values always give the same standard error.
    """
    distinct, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    n = counts.sum()
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.multinomial(n, counts / n, size=BOOTSTRAP_REPLICATES)
    return float((draws @ distinct / n).std(ddof=1))


def over_seeds(matrix):
    """Mean over seeds of each seed's accuracy, and the training-run term of that mean:
    (variance from the seed-to-seed spread, its degrees of freedom); None with one seed."""
    per_seed = matrix.mean(axis=1).tolist()
    if len(per_seed) < 2:
        return statistics.fmean(per_seed), None
    return statistics.fmean(per_seed), (
        statistics.variance(per_seed) / len(per_seed),
        len(per_seed) - 1,
    )


def satterthwaite_df(total, seed_terms):
    """Degrees of freedom of a sum of variances whose seed terms are (variance, df) and
    whose remainder (the test images) is known; inf when no seed term varies."""
    denominator = sum(variance**2 / df for variance, df in seed_terms)
    return total**2 / denominator if denominator > 0 else math.inf


def combined_interval(estimate, image_variance, seed_terms):
    """95 % interval of an estimate with a test-image variance and training-run terms."""
    total = image_variance + sum(variance for variance, _ in seed_terms)
    df = satterthwaite_df(total, seed_terms)
    half = student_t.quantile_975(df) * math.sqrt(total)
    return Interval(estimate, estimate - half, estimate + half, df)


def accuracy_interval(result):
    matrix = correctness_matrix(result)
    mean, seeds = over_seeds(matrix)
    image_variance = bootstrap_standard_error(matrix.mean(axis=0)) ** 2
    return combined_interval(mean, image_variance, [seeds] if seeds else [])


def interval_p(interval):
    """Two-sided p of 'no difference' under the interval's own t (or normal) distribution."""
    standard_error = (interval.high - interval.estimate) / student_t.quantile_975(interval.df)
    if standard_error == 0:
        return float(interval.estimate == 0)
    return student_t.two_sided_p(interval.estimate / standard_error, interval.df)


def mcnemar_p(b, c):
    """Exact two-sided McNemar p-value: b and c are the two kinds of discordant pairs."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    term, tail = 1, 1  # C(n, 0); running sum of C(n, i) for i <= k
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / 2**n)


def discordant_pairs(first, second):
    """(first right and second wrong, the reverse) per seed pair matched in order."""
    return tuple(
        (int((a & ~b).sum()), int((~a & b).sum())) for a, b in zip(first, second, strict=False)
    )


def image_terms(a, b, paired):
    """(test-image variance of the difference, discordant pairs, McNemar p) of two
    correctness matrices; unpaired (each model's own variance, no McNemar) when the test
    sets differ."""
    if not paired:
        return sum(bootstrap_standard_error(m.mean(axis=0)) ** 2 for m in (a, b)), (), None
    discordant = discordant_pairs(a, b)
    # intersection-union: the images tell the models apart only if every seed pair does
    mcnemar = max(mcnemar_p(x, y) for x, y in discordant)
    return bootstrap_standard_error(a.mean(axis=0) - b.mean(axis=0)) ** 2, discordant, mcnemar


def compare(first, second, kind):
    """Difference in accuracy of two ModelResults (first minus second), its interval and
    its test; unadjusted (holm() adjusts a family)."""
    a, b = correctness_matrix(first), correctness_matrix(second)
    (mean_a, seeds_a), (mean_b, seeds_b) = over_seeds(a), over_seeds(b)
    same_test_set = len({test_set_id(r) for r in (*first.records, *second.records)}) == 1
    paired = same_test_set and a.shape[1] == b.shape[1]
    image_variance, discordant, mcnemar = image_terms(a, b, paired)
    over_runs = seeds_a is not None and seeds_b is not None
    seed_terms = [seeds_a, seeds_b] if over_runs else []
    interval = combined_interval(mean_a - mean_b, image_variance, seed_terms)
    p_value = interval_p(interval) if over_runs else mcnemar
    return Comparison(
        kind, first.name, second.name, interval, over_runs, p_value, mcnemar, discordant
    )


def holm(p_values):
    """Holm's step-down adjustment of a family of p-values, in their order."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def adjusted(comparisons):
    """The comparisons with Holm-adjusted p-values; a pair listed twice (best and
    pretrained, say) counts once in the family, and a comparison without a test not at all."""
    family = {}
    for c in comparisons:
        if c.p_value is not None:
            family.setdefault(family_key(c), c.p_value)
    by_pair = dict(zip(family, holm(list(family.values())), strict=True))
    return [replace(c, adjusted_p=by_pair.get(family_key(c))) for c in comparisons]


def family_key(comparison):
    """One test per pair of models in either order; a run comparison is its own."""
    return comparison.kind == "run", frozenset((comparison.first, comparison.second))


def ranked(results):
    return sorted(results, key=lambda r: r.accuracy_mean, reverse=True)


def study_pairs(results):
    """(kind, first, second) for the questions the study asks.

    best: the most accurate model against the runner-up; pretrained: each pretrained
    model against each scratch model of its framework; framework: one framework against
    the other (in reverse name order: PyTorch, then Keras) on the same architecture
    (both pretrained or both from scratch).
    """
    order = ranked(results)
    best = [("best", order[0], order[1])] if len(order) > 1 else []
    pretrained = [
        ("pretrained", p, s)
        for p in results
        for s in results
        if p.pretrained and not s.pretrained and p.framework == s.framework
    ]
    framework = [  # each cross-framework pair once
        ("framework", t, k)
        for t in results
        for k in results
        if (t.architecture, t.pretrained) == (k.architecture, k.pretrained)
        and t.framework > k.framework
    ]
    return best + pretrained + framework


def pooled_calibration(result):
    """Reliability bins summed over a model's seeds, the mean of their ECEs, and the mean
    confidence."""
    blocks = [r["calibration"] for r in result.records if r.get("calibration")]
    if not blocks:
        return None
    counts = np.array([b["count"] for b in blocks])  # seeds × bins
    total = counts.sum(axis=0)

    def pooled(key):  # a per-bin mean over seeds, weighted by each seed's images in the bin
        return ((counts * [b[key] for b in blocks]).sum(axis=0) / np.maximum(total, 1)).tolist()

    confidence = pooled("mean_confidence")
    return {
        "count": total.tolist(),
        "mean_confidence": confidence,
        "accuracy": pooled("accuracy"),
        "ece": statistics.fmean(b["ece"] for b in blocks),
        # the mean top softmax probability over all test images
        "confidence": sum(c * n for c, n in zip(confidence, total.tolist(), strict=True))
        / max(int(total.sum()), 1),
    }


@dataclass(frozen=True)
class Statistics:
    intervals: dict  # model name -> Interval of its accuracy
    comparisons: list  # Comparison per study pair, Holm-adjusted with run_comparisons
    run_comparisons: list  # this run against the baseline run, model by model
    calibration: dict  # model name -> pooled calibration or None

    @property
    def family_size(self):
        """How many distinct tests the Holm adjustment counted."""
        pairs = self.comparisons + self.run_comparisons
        return len({family_key(c) for c in pairs if c.p_value is not None})


def study_statistics(results, baseline=()):
    """Intervals, the study's comparisons and, against `baseline` (another run's
    ModelResults), the run comparisons: all of them one Holm family."""
    done = {}  # a pair asked about twice (best and pretrained, say) is computed once
    comparisons = []
    for kind, a, b in study_pairs(results):
        if (a.name, b.name) not in done:
            done[a.name, b.name] = compare(a, b, kind)
        comparisons.append(replace(done[a.name, b.name], kind=kind))
    family = adjusted(comparisons + run_comparisons(results, baseline))
    return Statistics(
        intervals={r.name: accuracy_interval(r) for r in results},
        comparisons=family[: len(comparisons)],
        run_comparisons=family[len(comparisons) :],
        calibration={r.name: pooled_calibration(r) for r in results},
    )


def run_comparisons(results, baseline):
    """This run against a baseline run, model by model (models in both runs), this run first."""
    earlier = {r.name: r for r in baseline}
    return [compare(r, earlier[r.name], "run") for r in results if r.name in earlier]
