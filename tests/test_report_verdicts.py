"""Verdicts over training runs: t intervals, Welch's test, Holm's adjustment, and the
words that follow them; every expected value computed here, by closed form or by
integrating Student's t density (tests/report_fixtures.py writes the metrics)."""

import math
import re
from dataclasses import replace

import numpy as np
import pytest
from cifar_compare.report import format as fmt
from cifar_compare.report import stats as report_stats
from cifar_compare.report import student_t
from cifar_compare.report.conclusions import difference
from cifar_compare.report.data import model_results
from cifar_compare.report.tables import comparison_rows
from report_fixtures import OFFICIAL_CIFAR10_MD5, TEST_IMAGES, correct_mask, metrics_record

# 0.975 quantiles of Student's t (tables)
T975 = {1: 12.7062, 2: 4.3027, 4: 2.7764}


def t_density(x, df):
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_scale - (df + 1) / 2 * math.log1p(x * x / df))


def t_mass(upper, df, steps=4000):
    """Simpson's integral of the density from 0 to `upper`."""
    h = upper / steps
    inner = sum((4 if i % 2 else 2) * t_density(i * h, df) for i in range(1, steps))
    return h / 3 * (t_density(0, df) + inner + t_density(upper, df))


def t_quantile_by_integration(df):
    """The 0.975 quantile: where the integral of the density from 0 reaches 0.475."""
    low, high = 1.9, 20.0
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if t_mass(middle, df) < 0.475 else (low, middle)
    return (low + high) / 2


def blocks(*sizes):
    """One mask per seed, seed s right on the s-th block of images only: every image is
    right in exactly one seed, so the seed-averaged correctness is the same for every
    image and the test-image variance is exactly 0."""
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == TEST_IMAGES
    return [correct_mask([(int(a), int(b))]) for a, b in zip(edges, edges[1:], strict=False)]


def result(model, masks, md5=OFFICIAL_CIFAR10_MD5):
    records = [metrics_record(model, seed, m, md5) for seed, m in enumerate(masks)]
    (found,) = model_results(records, {model: list(range(len(masks)))})
    return found


def test_the_t_distribution_matches_closed_forms():
    for df, quantile in T975.items():
        assert student_t.quantile_975(df) == pytest.approx(quantile, abs=1e-4)
    for t in (0.3, 1.7, 6.0):
        assert student_t.two_sided_p(t, 1) == pytest.approx(1 - 2 * math.atan(t) / math.pi)
        assert student_t.two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t))
        assert student_t.two_sided_p(t, math.inf) == pytest.approx(math.erfc(t / math.sqrt(2)))
    assert student_t.quantile_975(2.6) == pytest.approx(t_quantile_by_integration(2.6), abs=1e-4)


@pytest.mark.parametrize("sizes", [(600, 400), (300, 300, 400), (150, 200, 200, 200, 250)])
def test_seed_intervals_use_t_with_seeds_minus_one_degrees_of_freedom(sizes):
    masks = blocks(*sizes)
    interval = report_stats.accuracy_interval(result("alexnet_scratch_pytorch", masks))
    per_seed = [m.mean() for m in masks]
    seeds = len(sizes)
    half = T975[seeds - 1] * math.sqrt(np.var(per_seed, ddof=1) / seeds)
    assert interval.estimate == pytest.approx(np.mean(per_seed))
    assert interval.high - interval.estimate == pytest.approx(half, rel=1e-4)
    assert interval.estimate - interval.low == pytest.approx(half, rel=1e-4)


def test_several_seeds_add_the_seed_to_seed_variance_with_satterthwaite_df():
    masks = [
        correct_mask([(0, 700)]),
        correct_mask([(0, 650), (700, 740)]),
        correct_mask([(0, 720)]),
    ]
    interval = report_stats.accuracy_interval(result("alexnet_scratch_pytorch", masks))
    per_seed = [m.mean() for m in masks]
    test_variance = np.mean(masks, axis=0).var() / TEST_IMAGES  # bootstrap of image means
    seed_variance = np.var(per_seed, ddof=1) / len(per_seed)
    total = test_variance + seed_variance
    df = total**2 / (seed_variance**2 / (len(per_seed) - 1))  # the image term as known
    half = t_quantile_by_integration(df) * math.sqrt(total)
    assert interval.estimate == pytest.approx(np.mean(per_seed))
    assert interval.high - interval.estimate == pytest.approx(half, rel=0.02)


def test_welch_p_value_by_hand():
    # every image right in 2 of 3 seeds against 1 of 3: no test-image variance left
    first = [~m for m in blocks(300, 300, 400)]
    second = blocks(300, 300, 400)
    comparison = report_stats.compare(
        result("alexnet_scratch_pytorch", first),
        result("alexnet_scratch_keras", second),
        "framework",
    )
    a, b = [m.mean() for m in first], [m.mean() for m in second]
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 3
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    assert (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2) == pytest.approx(4)  # Welch's df
    p = 1 - t * (t * t + 6) / (t * t + 4) ** 1.5  # two-sided tail of t with 4 df
    assert comparison.over_runs
    assert comparison.p_value == pytest.approx(p, rel=1e-6)
    assert comparison.difference.high - comparison.difference.estimate == pytest.approx(
        T975[4] * math.sqrt(va + vb), rel=1e-4
    )
    # one model without seed spread: Welch's df is the other's seeds - 1 = 1 (Cauchy)
    spread = blocks(600, 400)
    steady = [correct_mask([(0, 1000)])] * 2
    comparison = report_stats.compare(
        result("alexnet_scratch_pytorch", spread), result("alexnet_scratch_keras", steady), "x"
    )
    t = (0.5 - 1.0) / math.sqrt(np.var([0.6, 0.4], ddof=1) / 2)
    assert comparison.p_value == pytest.approx(1 - 2 * math.atan(abs(t)) / math.pi, rel=1e-6)


def test_holm_adjusts_a_family_of_four_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> 0.06
    assert report_stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert report_stats.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # 1.2 capped at 1


def mcnemar_by_hand(b, c):
    """Twice the binomial(b + c, 1/2) tail at min(b, c), at most 1."""
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),  # no discordant pair: nothing tells the models apart
        (3, 3, 1.0),  # 2 * 42 / 64, capped at 1
        (5, 1, 2 * (1 + 6) / 2**6),
        (1, 9, 2 * (1 + 10) / 2**10),
        (600, 500, None),  # a full test set's counts: C(1100, i) passes any float
    ],
)
def test_mcnemar_p_is_the_exact_binomial_tail(b, c, p):
    expected = mcnemar_by_hand(b, c)
    assert p is None or expected == pytest.approx(p, rel=1e-15)
    assert report_stats.mcnemar_p(b, c) == pytest.approx(expected, rel=1e-12)


def test_without_spread_the_p_value_is_0_for_a_difference_and_1_for_none():
    """Every seed of both models right on the same images (difference 0), or one model
    right everywhere and the other nowhere (difference 1): no variance at all, so the
    interval is a point and the test is decided without dividing by its zero width."""
    everything, nothing, some = (correct_mask(r) for r in ([(0, 1000)], [], [(0, 700)]))
    cases = [([some] * 2, [some] * 2, 0.0, 1.0), ([everything] * 2, [nothing] * 2, 1.0, 0.0)]
    for first, second, estimate, p in cases:
        comparison = report_stats.compare(
            result("alexnet_scratch_pytorch", first), result("alexnet_scratch_keras", second), "x"
        )
        assert comparison.over_runs
        assert comparison.difference == report_stats.Interval(estimate, estimate, estimate)
        assert comparison.p_value == p


def test_one_seed_against_two_is_judged_by_mcnemar_on_the_first_seed_pair():
    """One seed on one side: no training-run term, so the test images only; McNemar pairs
    the seeds in order, so the second model's second seed has no partner."""
    first = [correct_mask([(0, 700)])]
    second = [correct_mask([(0, 690)]), correct_mask([(0, 600)])]
    comparison = report_stats.compare(
        result("alexnet_scratch_pytorch", first), result("alexnet_scratch_keras", second), "x"
    )
    assert not comparison.over_runs
    assert comparison.discordant == ((10, 0),)
    assert comparison.mcnemar_p == comparison.p_value == pytest.approx(2 / 2**10)
    assert comparison.difference.df == math.inf
    assert comparison.difference.estimate == pytest.approx(0.70 - 0.645)


def first_masks():
    return [
        correct_mask([(0, 768), (770, 783)]),
        correct_mask([(0, 778)]),
        correct_mask([(0, 800)]),
    ]


def second_masks():
    return [correct_mask([(0, 770)])] * 3


def synthetic_case():
    """3 seeds each; every seed pair significant by McNemar (discordant 13/2, 8/0, 30/0:
    the largest p is 0.0078), but the per-seed gains (1.1, 0.8, 3.0 points) spread widely."""
    return (
        result("alexnet_scratch_pytorch", first_masks()),
        result("alexnet_scratch_keras", second_masks()),
    )


def test_the_synthetic_mcnemar_significant_case_is_not_called_ahead():
    first, second = synthetic_case()
    (comparison,) = report_stats.adjusted([report_stats.compare(first, second, "framework")])
    assert comparison.discordant == ((13, 2), (8, 0), (30, 0))
    largest = 2 / 2**8  # McNemar of 8 / 0 by hand, the largest (13 / 2: 0.0074)
    assert comparison.mcnemar_p == pytest.approx(largest)  # min over pairs would be 1.9e-9
    gains = [0.011, 0.008, 0.030]  # the second model's seeds do not vary
    seed_variance = np.var(gains, ddof=1) / 3
    per_image = np.mean(first_masks(), axis=0) - np.mean(second_masks(), axis=0)
    total = seed_variance + per_image.var() / TEST_IMAGES  # plus the paired image term
    df = total**2 / (seed_variance**2 / 2)
    t = np.mean(gains) / math.sqrt(total)
    assert comparison.p_value == pytest.approx(1 - 2 * t_mass(t, df), rel=0.05)
    assert comparison.p_value > 0.05  # about 0.12: Welch on the seeds alone gives 0.14
    (row,) = comparison_rows([comparison])
    assert row["verdict"] == "not distinguishable" and row["mcnemar_p"] == "0.008"
    words = difference(comparison, first, second)
    assert words.startswith(
        "alexnet_scratch_pytorch and alexnet_scratch_keras are not distinguishable ("
    )


def test_the_baseline_comparison_is_this_run_minus_the_baseline():
    this_run = [result("alexnet_scratch_pytorch", [~m for m in blocks(300, 300, 400)])]
    baseline = [result("alexnet_scratch_pytorch", blocks(300, 300, 400))]
    stats = report_stats.study_statistics(this_run, baseline)
    (comparison,) = stats.run_comparisons
    gain = np.mean([0.7, 0.7, 0.6]) - np.mean([0.3, 0.3, 0.4])
    assert comparison.difference.estimate == pytest.approx(gain)
    assert comparison.difference.low > 0
    (row,) = comparison_rows([comparison])
    assert row["difference"] == "+33.33" and row["verdict"] == "ahead"


@pytest.mark.parametrize(
    ("p", "printed", "verdict"),
    [(0.0496, "0.0496", "ahead"), (0.0504, "0.050", "not distinguishable")],
)
def test_p_values_print_on_the_side_of_their_verdict(p, printed, verdict):
    first = result("alexnet_scratch_pytorch", [~m for m in blocks(300, 300, 400)])
    second = result("alexnet_scratch_keras", blocks(300, 300, 400))
    comparison = replace(report_stats.compare(first, second, "framework"), adjusted_p=p)
    (row,) = comparison_rows([comparison])
    assert (row["adjusted_p"], row["verdict"]) == (printed, verdict)
    words = difference(comparison, first, second)
    assert f"Holm-adjusted p = {printed})" in words
    assert ("is ahead of" in words) == (verdict == "ahead")
    assert fmt.p_value(0.05) == "0.050" and fmt.p_value(0.04996) == "0.04996"


def test_metrics_without_per_image_predictions_say_which_to_evaluate_again():
    record = metrics_record("alexnet_scratch_keras", 3, correct_mask([(0, 500)]), "ab" * 16)
    del record["test_predictions"]
    message = (
        "metrics of alexnet_scratch_keras seed 3 have no test_predictions (written before "
        "they were recorded): evaluate that model again"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        report_stats.correctness(record)
