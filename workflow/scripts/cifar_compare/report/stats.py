"""Uncertainty of the report's claims, from the per-image test predictions in the metrics.

Interval of a model's accuracy (95 %, normal approximation): the accuracy is the mean
over seeds of each seed's test accuracy. Its variance has two parts, added:
  - the test images: a bootstrap over test images (the same resampled images for every
    seed), BOOTSTRAP_REPLICATES replicates with a fixed seed, gives the standard error;
  - the seeds: with k > 1 seeds, the sample variance of the per-seed accuracies / k.
The interval is estimate ± 1.96 × sqrt(sum). The difference of two models is treated
the same way, on the per-image difference of their seed-averaged correctness (paired,
when both were scored on the same test set), plus both models' seed variances.

Paired test: exact two-sided McNemar test on the test images both models classified
(the binomial test of the discordant images, b against c). With several seeds, seeds
are matched in order and each pair tested; the report gives the largest p-value, and a
difference is "significant" only when every matched pair is significant at 5 % (an
intersection-union test, valid at the 5 % level without adjustment).
"""

import hashlib
import math
import statistics
from dataclasses import dataclass, replace

import numpy as np

from cifar_compare.metrics import decode_labels

BOOTSTRAP_REPLICATES = 10000
BOOTSTRAP_SEED = 20260101
Z95 = 1.959963984540054
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    kind: str  # why the report compares them: "best", "pretrained", "framework", "run"
    first: str
    second: str
    difference: Interval  # first minus second, as fractions
    p_value: float | None  # None when the test sets differ: no paired test
    significant: bool | None
    discordant: tuple  # (first right only, second right only) per matched seed pair


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
    """Mean over seeds of each seed's accuracy, and that mean's variance from the
    seed-to-seed spread (0 with one seed)."""
    per_seed = matrix.mean(axis=1).tolist()
    spread = statistics.variance(per_seed) / len(per_seed) if len(per_seed) > 1 else 0.0
    return statistics.fmean(per_seed), spread


def normal_interval(estimate, variance):
    half = Z95 * math.sqrt(variance)
    return Interval(estimate, estimate - half, estimate + half)


def accuracy_interval(result):
    matrix = correctness_matrix(result)
    mean, seeds = over_seeds(matrix)
    return normal_interval(mean, bootstrap_standard_error(matrix.mean(axis=0)) ** 2 + seeds)


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


def compare(first, second, kind):
    """Difference in accuracy of two ModelResults, its interval and the paired test."""
    a, b = correctness_matrix(first), correctness_matrix(second)
    (mean_a, seeds_a), (mean_b, seeds_b) = over_seeds(a), over_seeds(b)
    estimate, seeds = mean_a - mean_b, seeds_a + seeds_b
    same_test_set = len({test_set_id(r) for r in (*first.records, *second.records)}) == 1
    if same_test_set and a.shape[1] == b.shape[1]:
        variance = bootstrap_standard_error(a.mean(axis=0) - b.mean(axis=0)) ** 2
        discordant = discordant_pairs(a, b)
        p_value = max(mcnemar_p(x, y) for x, y in discordant)
    else:  # no paired test: each model's own test-image variance
        variance = sum(bootstrap_standard_error(m.mean(axis=0)) ** 2 for m in (a, b))
        discordant, p_value = (), None
    interval = normal_interval(estimate, variance + seeds)
    significant = None if p_value is None else p_value < ALPHA
    return Comparison(kind, first.name, second.name, interval, p_value, significant, discordant)


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
    comparisons: list  # Comparison per study pair
    calibration: dict  # model name -> pooled calibration or None


def study_statistics(results):
    done = {}  # a pair asked about twice (best and pretrained, say) is computed once
    comparisons = []
    for kind, a, b in study_pairs(results):
        if (a.name, b.name) not in done:
            done[a.name, b.name] = compare(a, b, kind)
        comparisons.append(replace(done[a.name, b.name], kind=kind))
    return Statistics(
        intervals={r.name: accuracy_interval(r) for r in results},
        comparisons=comparisons,
        calibration={r.name: pooled_calibration(r) for r in results},
    )


def run_comparisons(results, baseline):
    """This run against a baseline run, model by model (models in both runs)."""
    earlier = {r.name: r for r in baseline}
    return [compare(r, earlier[r.name], "run") for r in results if r.name in earlier]
