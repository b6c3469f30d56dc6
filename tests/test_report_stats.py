"""The report rendered from hand-made metrics: page 1, intervals, paired tests, provenance.

Every expected number is computed here independently of the report's code: exact
McNemar p-values with math.comb, the bootstrap interval against its analytic value.
"""

import json
import math
import os
import re
from types import SimpleNamespace

import numpy as np
import pytest
from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.metrics import MAX_FILE_BYTES, calibration, read_metrics_file
from cifar_compare.report import format as fmt
from cifar_compare.report import stats as report_stats
from cifar_compare.report.data import model_results
from cifar_compare.report.render import baseline_of
from cifar_compare.report.tables import recorded
from pypdf import PdfReader
from report_fixtures import (
    MODELS,
    TEST_IMAGES,
    UNOFFICIAL_MD5,
    correct_mask,
    metrics_record,
    render_run,
    write_run,
)

Z95 = 1.959963984540054  # one seed: no training-run term, the normal quantile


def mcnemar(b, c):
    """Exact two-sided McNemar: twice the binomial(b + c, 1/2) tail at min(b, c)."""
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


def holm_by_hand(p_values):
    """Holm: the i-th smallest of m times (m - i), never below the one before, at most 1."""
    ranked = sorted(p_values)
    steps = [min(1.0, (len(ranked) - i) * p) for i, p in enumerate(ranked)]
    cumulative = [max(steps[: i + 1]) for i in range(len(steps))]
    return [cumulative[ranked.index(p)] for p in p_values]


def shown(p):
    return f"{p:.3f}" if p >= 0.001 else (f"{p:.4f}" if p >= 0.0001 else f"{p:.1e}")


def mask(model):
    return correct_mask(MODELS[model][-1])


def pages(pdf):
    return [page.extract_text() for page in PdfReader(pdf).pages]


def flat(text):
    return re.sub(r"\s+", " ", text)


# Sources whose credentials the records still hold (written before they were redacted,
# or by hand): the report must not show them.
DATA_URL = (
    "https://reader:s3cretPass@data.example/cifar-10-python.tar.gz"
    "?X-Amz-Signature=AMZSIG0123&X-Amz-Credential=KEYID42#tok3n"
)
WEIGHTS_URL = "https://weights.example/alexnet.pth?token=W31GHTSTOKEN"
SECRETS = ["reader", "s3cretPass", "AMZSIG0123", "KEYID42", "tok3n", "W31GHTSTOKEN"]


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    folder = tmp_path_factory.mktemp("official")
    return render_run(folder, precision="bf16", urls=(DATA_URL, WEIGHTS_URL))


@pytest.fixture(scope="module")
def unofficial_with_baseline(tmp_path_factory):
    baseline = tmp_path_factory.mktemp("baseline")
    write_run(baseline, shift=10, precision="fp32")  # a baseline must pass the schema
    folder = tmp_path_factory.mktemp("unofficial")
    return render_run(folder, UNOFFICIAL_MD5, baseline=baseline, weights_official=False)


def test_page_one_holds_the_answer_the_headline_table_and_the_chart(official):
    pdf, _ = official
    first = flat(pages(pdf)[0])
    assert first.startswith("AlexNet from scratch against pretrained models on CIFAR-10")
    assert "mobilenetv2_pretrained_keras scored highest: 85.00 %" in first
    assert (
        "Against the runner-up, mobilenetv2_pretrained_keras and alexnet_pretrained_pytorch "
        "are not distinguishable on these test images" in first
    )
    assert (
        "Pretrained against scratch (pytorch): alexnet_pretrained_pytorch scored 14.00 points "
        "above alexnet_scratch_pytorch on these test images" in first
    )
    assert "PyTorch against Keras on the same architecture (alexnet_cifar)" in first
    for model, (framework, _, _, size, _) in MODELS.items():  # headline table rows
        accuracy = f"{100 * mask(model).mean():.2f}"
        assert re.search(rf"{model} {framework} {size} px 1 {accuracy} ", first), model
        assert f"{model} " in first
    assert "bf16 cpu (x86_64, 2 cores)" in first  # training.precision and the device
    assert "Figure 1." in first
    resources = PdfReader(pdf).pages[0]["/Resources"]
    assert len(resources["/XObject"]) >= 1  # the chart is an image on page 1
    assert "WARNING" not in first  # official data, official weights


def test_memory_table_sizes_the_resized_training_set(official):
    memory = flat(" ".join(pages(official[0]))).split("6 Memory")[1]
    assert (
        f"alexnet_scratch_pytorch 32 px 45,000 2,000 n/a {fmt.size_bytes(45000 * 3 * 32**2 * 4)}"
        in memory
    )
    assert "alexnet_pretrained_pytorch 224 px 45,000 2,000 n/a 25.2 GiB" in memory


def test_warnings_leave_page_one_its_answer_table_and_chart(unofficial_with_baseline):
    pdf, context = unofficial_with_baseline
    first = flat(pages(pdf)[0])
    assert first.count("WARNING") == 3  # the data and two weights files
    assert "scored highest" in first and "Figure 1." in first
    assert re.search(r"mobilenetv2_pretrained_keras keras 128 px 1 85\.00 ", first)
    # the sentence for a file with no published hash reads as a sentence
    assert "no published hash and none pinned yet; a local copy cannot be verified)" in first
    assert "the no published hash" not in flat(" ".join(pages(pdf)))
    assert {recorded(r, "precision") for r in context["results"]} == {"\u2014"}


def interval_bounds(text, model):
    found = re.search(rf"{model} \w+ \d+ px 1 (\d+\.\d\d) (\d+\.\d\d)–(\d+\.\d\d) ", text)
    assert found, model
    return [float(g) for g in found.groups()]


def test_intervals_match_the_binomial_standard_error(official):
    pdf, _ = official
    first = flat(pages(pdf)[0])
    for model in MODELS:
        p = mask(model).mean()
        half = 100 * Z95 * math.sqrt(p * (1 - p) / TEST_IMAGES)  # one seed: test images only
        estimate, low, high = interval_bounds(first, model)
        assert estimate == pytest.approx(100 * p)
        assert low == pytest.approx(100 * p - half, abs=0.05)
        assert high == pytest.approx(100 * p + half, abs=0.05)


def test_p_values_match_an_exact_mcnemar_computed_here_holm_adjusted(official):
    pdf, context = official
    text = flat(" ".join(pages(pdf))).replace("Holm- adjusted", "Holm-adjusted")
    pairs = [
        ("mobilenetv2_pretrained_keras", "alexnet_pretrained_pytorch"),
        ("alexnet_pretrained_pytorch", "alexnet_scratch_pytorch"),
        ("mobilenetv2_pretrained_keras", "alexnet_scratch_keras"),
        ("alexnet_scratch_pytorch", "alexnet_scratch_keras"),
    ]
    rows = {
        (r["first"].replace("\u200b", ""), r["second"].replace("\u200b", "")): r
        for r in context["comparisons"]
    }
    assert set(rows) == set(pairs)
    discordant = [
        (int((mask(a) & ~mask(b)).sum()), int((~mask(a) & mask(b)).sum())) for a, b in pairs
    ]
    raw = [mcnemar(b, c) for b, c in discordant]
    adjusted = holm_by_hand(raw)  # one seed each: the verdicts rest on McNemar, 4 tests
    assert context["family_size"] == 4
    for (first, second), (b, c), p, q in zip(pairs, discordant, raw, adjusted, strict=True):
        row = rows[first, second]
        assert row["discordant"] == f"{b} / {c}"
        assert row["mcnemar_p"] == shown(p) and row["adjusted_p"] == shown(q)
        assert row["test"] == "McNemar"
        assert row["verdict"] == ("ahead (test images only)" if q < 0.05 else "not distinguishable")
        # the same test in words, in the answer: a difference only where the adjusted p rejects
        sentence = re.search(rf"{first} (scored|and) [^)]*{second}[^)]*\)[^.]*", text).group(0)
        assert ("not distinguishable" in sentence) == (q >= 0.05), sentence
        assert f"McNemar, test images only, Holm-adjusted p = {shown(q)}" in sentence
    # best against runner-up: 20 / 10 discordant images, p = 0.099: not distinguishable
    best = rows["mobilenetv2_pretrained_keras", "alexnet_pretrained_pytorch"]
    assert best["verdict"] == "not distinguishable"


def test_a_one_seed_study_says_on_page_one_that_run_to_run_noise_is_not_covered(official):
    first = flat(pages(official[0])[0])
    assert "mobilenetv2_pretrained_keras scored highest: 85.00 %" in first
    assert "is the most accurate model" not in first  # not distinguishable from the runner-up
    assert first.count("run-to-run variation is not covered") == 1  # said once, first
    assert (
        "Every model trained once (one seed), so their intervals and tests cover test-image "
        "noise only: run-to-run variation is not covered." in first
    )
    assert "%, test images only) on 1,000 test images" in first


def test_the_difference_interval_is_paired():
    records = [metrics_record(m, 0, mask(m), OFFICIAL_CIFAR10_MD5) for m in MODELS]
    results = {r.name: r for r in model_results(records, {m: [0] for m in MODELS})}
    first, second = "alexnet_scratch_pytorch", "alexnet_scratch_keras"
    comparison = report_stats.compare(results[first], results[second], "framework")
    d = mask(first).astype(float) - mask(second).astype(float)
    half = Z95 * d.std() / math.sqrt(TEST_IMAGES)  # standard error of a paired mean
    assert comparison.difference.estimate == pytest.approx(d.mean())
    assert comparison.difference.high - comparison.difference.estimate == pytest.approx(
        half, rel=0.03
    )


def test_the_bootstrap_is_seeded_and_matches_resampling_images():
    values = correct_mask([(0, 700)]).astype(float)
    first = report_stats.bootstrap_standard_error(values)
    assert first == report_stats.bootstrap_standard_error(values)
    rng = np.random.default_rng(7)  # resample the images themselves
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(4000)]
    assert first == pytest.approx(np.std(means, ddof=1), rel=0.05)


def test_calibration_bins_and_ece_by_hand():
    confidence = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    correct = np.array([True, True, True, False, True, False])
    found = calibration(confidence, correct, bins=10)
    assert found["count"][9] == 4 and found["count"][5] == 2
    assert found["accuracy"][9] == 0.75 and found["mean_confidence"][5] == 0.55
    # 4 images at |0.75 - 0.95| and 2 at |0.5 - 0.55|, weighted by images
    assert found["ece"] == pytest.approx((4 * 0.2 + 2 * 0.05) / 6)


def test_calibration_pools_the_seeds_bins_weighted_by_their_images():
    """Two seeds' bins (four bins; the last empty) and a record without calibration: counts
    add up, a bin's mean is weighted by each seed's images in it, the ECE is the mean of
    the seeds', and the confidence the mean over all eight images."""
    seeds = [
        {"count": [2, 1, 1, 0], "mean_confidence": [0.2, 0.5, 0.9, 0], "accuracy": [0.5, 1, 1, 0]},
        {"count": [1, 0, 3, 0], "mean_confidence": [0.3, 0, 0.7, 0], "accuracy": [0, 0, 1 / 3, 0]},
    ]
    records = [{"calibration": {**seeds[0], "ece": 0.1}}, {"calibration": None}]
    records.append({"calibration": {**seeds[1], "ece": 0.3}})
    found = report_stats.pooled_calibration(SimpleNamespace(records=records))
    assert found["count"] == [3, 1, 4, 0]
    assert found["mean_confidence"] == pytest.approx([(0.4 + 0.3) / 3, 0.5, (0.9 + 2.1) / 4, 0])
    assert found["accuracy"] == pytest.approx([1 / 3, 1.0, 2 / 4, 0.0])
    assert found["ece"] == pytest.approx(0.2)
    assert found["confidence"] == pytest.approx((0.4 + 0.3 + 0.5 + 0.9 + 2.1) / 8)
    # one image in all: its confidence
    single = {"count": [0, 1], "mean_confidence": [0, 0.8], "accuracy": [0, 1], "ece": 0.2}
    found = report_stats.pooled_calibration(SimpleNamespace(records=[{"calibration": single}]))
    assert found["confidence"] == pytest.approx(0.8)
    assert report_stats.pooled_calibration(SimpleNamespace(records=[{}])) is None


def test_the_data_warning_appears_only_for_an_unofficial_archive(
    official, unofficial_with_baseline
):
    official_text = flat(" ".join(pages(official[0])))
    assert "is not the official archive" not in official_text
    assert f"archive md5 {OFFICIAL_CIFAR10_MD5}" in official_text
    assert "official yes: the official CIFAR-10 md5" in official_text
    first = flat(pages(unofficial_with_baseline[0])[0])
    assert f"WARNING: The CIFAR-10 archive of this run (md5 {UNOFFICIAL_MD5}) is not the" in first
    appendix = flat(" ".join(pages(unofficial_with_baseline[0]))).split("Appendix: provenance")[1]
    assert "archive source file:///data/cifar.tar.gz" in appendix
    assert "official NO: the official CIFAR-10 md5 is c58f30108f718f92721af3b95e74349a" in appendix


def test_a_baseline_run_gets_a_comparison_section(official, unofficial_with_baseline):
    assert "against the baseline run" not in flat(" ".join(pages(official[0])))
    pdf, context = unofficial_with_baseline
    text = flat(" ".join(pages(pdf)))
    assert "8 This run against the baseline run" in text
    rows = context["baseline"]["rows"]
    assert [r["first"] for r in rows] == list(MODELS)
    study = [  # the study's own four McNemar p-values: one Holm family with the run's four
        mcnemar(int((mask(a) & ~mask(b)).sum()), int((~mask(a) & mask(b)).sum()))
        for a, b in [
            ("mobilenetv2_pretrained_keras", "alexnet_pretrained_pytorch"),
            ("alexnet_pretrained_pytorch", "alexnet_scratch_pytorch"),
            ("mobilenetv2_pretrained_keras", "alexnet_scratch_keras"),
            ("alexnet_scratch_pytorch", "alexnet_scratch_keras"),
        ]
    ]
    runs = []
    for row, model in zip(rows, MODELS, strict=True):
        here, there = mask(model), correct_mask(MODELS[model][-1], shift=10)
        b, c = int((here & ~there).sum()), int((~here & there).sum())
        assert row["discordant"] == f"{b} / {c}"
        assert row["difference"] == fmt.signed_points((b - c) / TEST_IMAGES)  # this run first
        runs.append(mcnemar(b, c))
        assert row["mcnemar_p"] == shown(runs[-1])
    assert context["family_size"] == 8
    for row, q in zip(rows, holm_by_hand(study + runs)[4:], strict=True):
        assert row["adjusted_p"] == shown(q)
        assert row["verdict"] != "ahead"  # one run each: never "ahead" over training runs
        assert (row["verdict"] == "not distinguishable") == (q >= 0.05)


def test_weights_check_reads_with_and_without_a_hash():
    from cifar_compare.report.tables import weights_check

    pinned = {"checked_against": "sha256 pinned in config/weights.lock.json", "official_hash": "ab"}
    assert (
        weights_check(pinned) == "checked against the sha256 pinned in config/weights.lock.json: ab"
    )
    unknown = {
        "checked_against": "no published hash and none pinned yet; a local copy cannot be verified",
        "official_hash": None,
    }
    assert weights_check(unknown) == unknown["checked_against"]
    assert "the no published" not in weights_check(unknown)


def test_baseline_setup_differences_are_named(unofficial_with_baseline):
    from cifar_compare.report.context import setup_changes

    assert "Both runs trained every shared model for the same epochs" in flat(
        " ".join(pages(unofficial_with_baseline[0]))
    )
    model = "alexnet_scratch_pytorch"
    here = metrics_record(model, 0, mask(model), OFFICIAL_CIFAR10_MD5)
    there = metrics_record(model, 0, mask(model), OFFICIAL_CIFAR10_MD5)
    there["model_config"] = {**there["model_config"], "epochs": 5, "input_size": 64}
    results, earlier = (model_results([r], {model: [0]}) for r in (here, there))
    assert setup_changes(results, earlier) == [
        f"{model}: 10 epochs here, 5 in the baseline; 32 px input here, 64 in the baseline"
    ]
    there["model_config"] = here["model_config"]
    here.update(test_time_flip=True, test_time_shift=2)  # rescored, not retrained
    results, earlier = (model_results([r], {model: [0]}) for r in (here, there))
    assert setup_changes(results, earlier) == [
        f"{model}: scored with test-time flip and 2-pixel test-time shifts here, "
        "without test-time flip or shifts in the baseline"
    ]


def test_different_test_sets_get_no_paired_test():
    model = "alexnet_scratch_pytorch"
    here = metrics_record(model, 0, mask(model), OFFICIAL_CIFAR10_MD5)
    there = metrics_record(model, 0, mask(model), OFFICIAL_CIFAR10_MD5)
    there["data"] = {**there["data"], "test_set_sha256": "ee" * 32}
    (a,), (b,) = (model_results([r], {model: [0]}) for r in (here, there))
    comparison = report_stats.compare(a, b, "run")
    assert comparison.mcnemar_p is None and comparison.p_value is None
    assert comparison.significant is None
    p = mask(model).mean()
    half = Z95 * math.sqrt(2 * p * (1 - p) / TEST_IMAGES)  # two independent samples
    assert comparison.difference.high == pytest.approx(half, rel=0.03)


def test_credentials_in_source_urls_never_reach_the_report(official):
    pdf, _ = official
    text = " ".join(pages(pdf))
    html = (pdf.parent / "report.html").read_text()
    squeezed = re.sub(r"\s", "", text)
    for secret in SECRETS:
        assert secret not in squeezed and secret not in html, secret
    appendix = flat(text).split("Appendix: provenance")[1]
    redacted = "https://***@data.example/cifar-10-python.tar.gz?***#***"
    assert redacted in re.sub(r"\s", "", appendix)  # where it came from, still said
    assert "https://weights.example/alexnet.pth?***" in squeezed


def test_each_baseline_metrics_file_must_pass_the_metrics_schema(tmp_path):
    paths, _, _ = write_run(tmp_path, precision="fp32")
    assert len(baseline_of(paths, tmp_path)[0]) == len(MODELS)  # valid as written
    path = tmp_path / "metrics" / "alexnet_scratch_pytorch" / "seed0.json"
    record = json.loads(path.read_text())
    negative = [row[:] for row in record["confusion_matrix"]]
    negative[2][3] = -1
    damaged = {
        "{not json": "Expecting property name",
        json.dumps({**record, "test_accuracy": "high"}): (
            "metrics record invalid at test_accuracy: 'high' is not of type 'number'"
        ),
        json.dumps([record]): "metrics record invalid at \\(top level\\): fails type: 'object'",
        json.dumps({**record, "confusion_matrix": negative}): (
            "metrics record invalid at confusion_matrix/2/3: -1 is less than the minimum of 0"
        ),
        # jsonschema's message in full up to 200 characters (here 173 + 2 quotes + 25)...
        json.dumps({**record, "seed": "s" * 173}): (
            f"metrics record invalid at seed: '{'s' * 173}' is not of type 'integer'$"
        ),
        # ...and from 201 the failed check instead, its value clipped to 100 characters
        json.dumps({**record, "seed": "s" * 174}): (
            "metrics record invalid at seed: fails type: 'integer'$"
        ),
        json.dumps({**record, "weights": "w" * 300}): re.escape(
            "metrics record invalid at weights: fails oneOf: [{'type': 'null'}, {'type': "
            "'object', 'required': ['name', 'file', 'sha256', 'official'], 'proper..."
        )
        + "$",
    }
    for text, message in damaged.items():
        path.write_text(text)
        with pytest.raises(ValueError, match=f"^metrics file {re.escape(str(path))}: {message}"):
            baseline_of(paths, tmp_path)
    path.write_text("")
    os.truncate(path, MAX_FILE_BYTES)  # the largest size read: its NUL bytes are no JSON
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: Expecting value"):
        baseline_of(paths, tmp_path)
    os.truncate(path, MAX_FILE_BYTES + 1)  # sparse: nothing is read
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: larger than {MAX_FILE_BYTES}"):
        baseline_of(paths, tmp_path)


def test_a_metrics_file_error_clips_the_path_to_200_characters_and_the_reason_to_300(tmp_path):
    path = tmp_path / ("d" * 150) / ("f" * 150 + ".json")  # missing
    reason = f"[Errno 2] No such file or directory: {str(path)!r}"
    with pytest.raises(ValueError) as raised:
        read_metrics_file(path)
    assert str(raised.value) == f"metrics file {str(path)[:197]}...: {reason[:297]}..."
