"""The report's answer and conclusions: each sentence computed from the run's results.

Nothing here knows a result in advance: a model that did not run is not in
`results` and so is never named, and every number comes from the metrics and the
statistics computed from them (cifar_compare.report.stats). A difference is called
significant only where its paired test says so.
"""

from cifar_compare.report import format as fmt
from cifar_compare.report.stats import ALPHA, ranked
from cifar_compare.report.tables import original_rows, weights_check


def verdict(comparison):
    """The paired test's answer, in words; 'significant' only when it rejects."""
    if comparison.p_value is None:
        return "the test sets differ, so there is no paired test"
    p = fmt.p_value(comparison.p_value)
    p = p if p.startswith("<") else f"= {p}"  # "p < 1e-300", not "p = < 1e-300"
    if comparison.significant:
        return f"McNemar p {p}, significant at the {100 * ALPHA:.0f} % level"
    return f"McNemar p {p}, not distinguishable from chance at the {100 * ALPHA:.0f} % level"


def difference(comparison, first, second):
    """'A beat B by X points (… ; interval …; verdict)'."""
    d = comparison.difference
    if fmt.percent(first.accuracy_mean) == fmt.percent(second.accuracy_mean):
        head = f"{first.name} matched {second.name}"
    else:
        verb = "beat" if d.estimate > 0 else "trailed"
        head = f"{first.name} {verb} {second.name} by {fmt.percent(abs(d.estimate))} points"
    return (
        f"{head} ({fmt.percent(first.accuracy_mean)} % against "
        f"{fmt.percent(second.accuracy_mean)} %; difference {fmt.difference_interval(d)} "
        f"points at 95 %; {verdict(comparison)})"
    )


def findings(results, stats):
    """The best model (against the runner-up), then one sentence per compared pair."""
    by_name = {r.name: r for r in results}
    order = ranked(results)
    top, seeds = order[0], len(order[0].seeds)
    interval = stats.intervals[top.name]
    tied = [
        r.name for r in order[1:] if fmt.percent(r.accuracy_mean) == fmt.percent(top.accuracy_mean)
    ]
    jointly = f" (jointly with {', '.join(tied)})" if tied else ""
    sentences = [
        f"{top.name} is{jointly} the most accurate model: {fmt.percent(interval.estimate)} % "
        f"(95 % interval {fmt.interval_text(interval)} %) on "
        f"{fmt.count(top.test_images)} test images ({seeds} seed{'s' if seeds > 1 else ''})."
    ]
    for c in stats.comparisons:
        first = by_name[c.first]
        said = difference(c, first, by_name[c.second])
        if c.kind == "best":
            sentences[0] += f" Against the runner-up, {said}."
        elif c.kind == "pretrained":
            sentences.append(f"Pretrained against scratch ({first.framework}): {said}.")
        else:
            lead = f"PyTorch against Keras on the same architecture ({first.architecture})"
            sentences.append(f"{lead}: {said}.")
    return sentences


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
        return f"Cost: {top.name}, the most accurate, was also the fastest to train ({cost(top)})."
    return (
        f"Cost: the most accurate model, {top.name}, took {cost(top)}; that is "
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


def conclusions(results, stats, original, data):
    """The conclusions section: a handful of sentences answering the study's questions."""
    if not results:
        return []
    return [
        *findings(results, stats),
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
