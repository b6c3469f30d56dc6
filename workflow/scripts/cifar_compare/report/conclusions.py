"""The report's answer and conclusions: each sentence computed from the run's results.

Nothing here knows a result in advance: a model that did not run is not in
`results` and so is never named, and every number comes from the metrics and the
statistics computed from them (cifar_compare.report.stats). A model is called ahead
only where its comparison's Holm-adjusted p is below ALPHA, and a comparison with a
model trained once says that it cannot speak to run-to-run variation.
"""

from cifar_compare.report import format as fmt
from cifar_compare.report.spread import quoted_spreads
from cifar_compare.report.stats import ALPHA, family_key, ranked
from cifar_compare.report.tables import original_rows, weights_check


def test_words(comparison):
    """The verdict's test and its Holm-adjusted p, in words."""
    p = fmt.p_value(comparison.adjusted_p)
    p = p if p.startswith("<") else f"= {p}"  # "p < 1e-300", not "p = < 1e-300"
    if comparison.over_runs:
        return f"t-test over training runs and test images, Holm-adjusted p {p}"
    return f"McNemar, test images only, Holm-adjusted p {p}"


def run_to_run_caveat(first, second):
    once = " and ".join(r.name for r in (first, second) if len(r.seeds) < 2)
    return f"one training run of {once}, so this cannot speak to run-to-run variation"


def verdict_head(comparison, first, second):
    """'A is ahead of B by X points', or 'A and B are not distinguishable'."""
    d, points = comparison.difference.estimate, fmt.percent(abs(comparison.difference.estimate))
    if comparison.significant is None:
        return f"{first.name} against {second.name}, {fmt.signed_points(d)} points"
    if not comparison.significant:
        where = "" if comparison.over_runs else " on these test images"
        return f"{first.name} and {second.name} are not distinguishable{where}"
    if comparison.over_runs:
        return (
            f"{first.name} is {'ahead of' if d > 0 else 'behind'} {second.name} by {points} points"
        )
    side = "above" if d > 0 else "below"
    return f"{first.name} scored {points} points {side} {second.name} on these test images"


def difference(comparison, first, second, caveat=True):
    """'A is ahead of B by X points (… ; interval …; test, adjusted p)', with the
    run-to-run caveat where a model trained once (unless the study says it once)."""
    details = (
        f"{fmt.percent(first.accuracy_mean)} % against {fmt.percent(second.accuracy_mean)} %; "
        f"difference {fmt.difference_interval(comparison.difference)} points at 95 %; "
        + (
            "the test sets differ, so there is no paired test"
            if comparison.p_value is None
            else test_words(comparison)
        )
    )
    tail = "" if comparison.over_runs or not caveat else f"; {run_to_run_caveat(first, second)}"
    return f"{verdict_head(comparison, first, second)} ({details}){tail}"


def interval_words(result, interval):
    """The interval of a model's accuracy and which noise it covers."""
    text = f"95 % interval {fmt.interval_text(interval)} %"
    if len(result.seeds) > 1:
        return f"{text}, over {len(result.seeds)} training runs and the test images"
    return f"{text}, test images only"


def best_sentence(results, stats):
    """'X is the most accurate model' only where the runner-up is behind by the test."""
    order = ranked(results)
    top = order[0]
    best = next((c for c in stats.comparisons if c.kind == "best"), None)
    decided = best is not None and best.significant and best.over_runs
    tied = [
        r.name for r in order[1:] if fmt.percent(r.accuracy_mean) == fmt.percent(top.accuracy_mean)
    ]
    jointly = f" (jointly with {', '.join(tied)})" if tied else ""
    claim = "is the most accurate model" if decided else f"scored highest{jointly}"
    interval = stats.intervals[top.name]
    return (
        f"{top.name} {claim}: {fmt.percent(interval.estimate)} % "
        f"({interval_words(top, interval)}) on {fmt.count(top.test_images)} test images."
    )


def family_sentence(stats):
    if not stats.family_size:
        return []
    return [
        f"p-values are Holm-adjusted over the {stats.family_size} "
        f"test{'s' if stats.family_size > 1 else ''} this report makes; "
        f"a model is called ahead only where the adjusted p is below {ALPHA:g}."
    ]


def single_run_sentence(results, measurements=()):
    """Which models trained once, so that their intervals and tests miss run-to-run noise,
    and the spread this project measured for their recipes where it has measured one."""
    once = [r.name for r in results if len(r.seeds) < 2]
    if not once:
        return []
    who = "Every model" if len(once) == len(results) else ", ".join(once)
    sentences = [
        f"{who} trained once (one seed), so {'its' if len(once) == 1 else 'their'} intervals "
        "and tests cover test-image noise only: run-to-run variation is not covered."
    ]
    quoted = quoted_spreads(results, measurements)
    if quoted:
        spreads = "; ".join(
            f"{name} {m['sd_points']:.2f} points over {m['runs']} seeds "
            f"({m['scale']}, {m['source']})"
            for name, m in quoted
        )
        sentences.append(
            "The seed-to-seed standard deviation of test accuracy this project measured for "
            f"the same recipes: {spreads}. Single-run differences of that size can be "
            "training noise."
        )
    return sentences


def question(comparison, first):
    """What the study asks of a compared pair, in words to go mid-sentence."""
    if comparison.kind == "best":
        return "against the runner-up"
    if comparison.kind == "pretrained":
        return f"pretrained against scratch ({first.framework})"
    return f"PyTorch against Keras on the same architecture ({first.architecture})"


def findings(results, stats, measurements=()):
    """The best model (against the runner-up), then one sentence per compared pair, each
    pair's difference said once however many questions ask about it;
    `measurements`: the run-to-run spreads this project measured (report/spread.py)."""
    by_name = {r.name: r for r in results}
    sentences = [best_sentence(results, stats)]
    all_once = all(len(r.seeds) < 2 for r in results)  # then said once, not per pair
    asked = {}  # pair (as Holm counts it) -> its comparisons, in the study's order: best first
    for c in stats.comparisons:
        asked.setdefault(family_key(c), []).append(c)
    for comparisons in asked.values():
        c = comparisons[0]
        first = by_name[c.first]
        said = difference(c, first, by_name[c.second], caveat=not all_once)
        lead, *also = [question(q, by_name[q.first]) for q in comparisons]
        lead = lead[0].upper() + lead[1:] + "".join(f", also the pair for {q}" for q in also)
        if c.kind == "best":
            sentences[0] += f" {lead}, {said}."
        else:
            sentences.append(f"{lead}: {said}.")
    return single_run_sentence(results, measurements) + sentences + family_sentence(stats)


def cost_sentence(results):
    """Time, throughput, parameters and memory of the cheapest and the best model."""
    cheap = min(results, key=lambda r: r.train_seconds)
    top = ranked(results)[0]

    def cost(r):
        device = (
            "" if r.peak_device_mb is None else f", {fmt.megabytes(r.peak_device_mb)} MB device"
        )
        return (
            f"{fmt.seconds(r.train_seconds)} s per training run at "
            f"{fmt.rate(r.train_images_per_second)} images/s, {fmt.count(r.params_total)} "
            f"parameters, peak {fmt.megabytes(r.peak_rss_mb)} MB host memory{device}"
        )

    if cheap is top:
        return (
            f"Cost: {top.name}, the highest-scoring, was also the fastest to train ({cost(top)})."
        )
    return (
        f"Cost: the highest-scoring model, {top.name}, took {cost(top)}; that is "
        f"{fmt.ratio(top.train_seconds / cheap.train_seconds)} times the training time of "
        f"the fastest, {cheap.name} ({cost(cheap)})."
    )


def original_sentence(results, original):
    rows = original_rows(results, original)
    if not rows:
        return "None of this run's models appears in the original study."
    differences = []
    for row in rows:
        epochs, size, name = row["original_epochs"], row["original_input"], row["model"]
        if row["epochs"] != epochs:
            differences.append(f"{row['epochs']} epochs instead of {epochs} for {name}")
        if row["input"] != size:
            differences.append(f"{row['input']} instead of {size} for {name}")
    if differences:
        setup = (
            "This run did not use the original study's setup (" + "; ".join(differences) + "), "
            "so it does not replicate the original's figures"
        )
    else:
        setup = f"This run used the original study's epochs ({original['epochs']}) and input sizes"
    places = "; ".join(f"{row['model']} {row['verdict']} ({row['original']})" for row in rows)
    return f"{setup}. Against the original's reported ranges: {places}."


def caveat_sentences(results, data):
    sentences = [data["warning"]] if data["warning"] else []
    unofficial = [r.name for r in results if r.weights and not r.weights["official"]]
    if unofficial:
        sentences.append(
            f"{', '.join(unofficial)} used weights that are not the official files, so "
            "their accuracies say nothing about ImageNet pretraining."
        )
    return sentences


def conclusions(results, stats, original, data, measurements=()):
    """The conclusions section: a handful of sentences answering the study's questions."""
    if not results:
        return []
    return [
        *findings(results, stats, measurements),
        cost_sentence(results),
        original_sentence(results, original),
        *caveat_sentences(results, data),
    ]


def weights_warnings(results):
    return [
        f"{r.name} used weights that are not the official {r.weights['name']} file "
        f"(sha256 {r.weights['sha256'][:12]}…; {weights_check(r.weights)}): its accuracy "
        "says nothing about ImageNet pretraining."
        for r in results
        if r.weights and not r.weights["official"]
    ]
