"""The report's conclusions: each sentence computed from the run's ModelResults.

Nothing here knows a result in advance: a model that did not run is not in
`results` and so is never named, and every number comes from the metrics.
"""

from cifar_compare import report_format as fmt
from cifar_compare.report_tables import original_range, versus_original


def acc(result):
    return f"{fmt.accuracy_text(result.accuracy_mean, result.accuracy_std)} %"


def best(results):
    top = max(results, key=lambda r: r.accuracy_mean)
    seeds = len(top.seeds)
    return (
        f"{top.name} reached the highest mean test accuracy, {acc(top)} "
        f"({seeds} seed{'s' if seeds > 1 else ''}, {fmt.count(top.test_images)} test images)."
    )


def spread_note(a, b):
    if a.accuracy_std is None or b.accuracy_std is None:
        return "one seed each, so no spread to judge it against"
    both = a.accuracy_std + b.accuracy_std
    side = "larger than" if abs(a.accuracy_mean - b.accuracy_mean) > both else "within"
    return f"{side} the sum of their seed-to-seed standard deviations ({fmt.points(both)} points)"


def compare(a, b):
    """'a beat b by X points (A % against B %; ...)' or trailed / matched."""
    if fmt.percent(a.accuracy_mean) == fmt.percent(b.accuracy_mean):
        return f"{a.name} matched {b.name} at {fmt.percent(a.accuracy_mean)} %."
    verb = "beat" if a.accuracy_mean > b.accuracy_mean else "trailed"
    gap = fmt.points(a.accuracy_mean - b.accuracy_mean)
    detail = f"{acc(a)} against {acc(b)}; {spread_note(a, b)}"
    return f"{a.name} {verb} {b.name} by {gap} points ({detail})."


def pairs(results):
    """Pretrained against scratch models, then the same architecture across frameworks."""
    pretrained = [r for r in results if r.pretrained]
    scratch = [r for r in results if not r.pretrained]
    found = [(p, s) for p in pretrained for s in scratch]
    for group in (scratch, pretrained):
        found += [
            (a, b)
            for i, a in enumerate(group)
            for b in group[i + 1 :]
            if a.architecture == b.architecture and a.framework != b.framework
        ]
    return [compare(a, b) for a, b in found]


def cost(results):
    if len(results) < 2:
        return []
    fast = max(results, key=lambda r: r.train_images_per_second)
    slow = min(results, key=lambda r: r.train_images_per_second)
    small = min(results, key=lambda r: r.params_total)
    large = max(results, key=lambda r: r.params_total)
    times = (
        f"{fast.name} trained at {fmt.rate(fast.train_images_per_second)} images/s, "
        f"{fmt.ratio(fast.train_images_per_second / slow.train_images_per_second)} times "
        f"the rate of {slow.name} ({fmt.rate(slow.train_images_per_second)} images/s)."
    )
    sizes = (
        f"Parameter counts ranged from {fmt.count(small.params_total)} ({small.name}) "
        f"to {fmt.count(large.params_total)} ({large.name})."
    )
    return [times, sizes]


def memory(results):
    """What resizing the largest-input model's training set up front would have cost."""
    r = max(results, key=lambda r: fmt.materialised_bytes(r.train_images, r.input_size))
    needed = fmt.materialised_bytes(r.train_images, r.input_size)
    return (
        f"Resizing the {fmt.count(r.train_images)} training images to {r.input_size} px "
        f"as float32 up front would have needed {fmt.size_bytes(needed)}; "
        f"{r.name} resized per batch instead and peaked at "
        f"{fmt.megabytes(r.peak_rss_mb)} MB of host memory."
    )


def against_original(results, original):
    sentences = []
    for r in results:
        entry = original["models"].get(r.name)
        if entry is None:
            continue
        sentences.append(
            f"{r.name}: {acc(r)} after {r.epochs} epoch{'s' if r.epochs > 1 else ''} "
            f"at {r.input_size} px, against the original study's {original_range(entry)} "
            f"after {original['epochs']} epochs at {entry['input_size']} px "
            f"({versus_original(r.accuracy_mean, entry)})."
        )
    return sentences


def weights_warnings(results):
    return [
        f"{r.name} used weights that are not the official {r.weights['name']} file "
        f"(sha256 {r.weights['sha256'][:12]}…): its accuracy says nothing about "
        "ImageNet pretraining."
        for r in results
        if r.weights and not r.weights["official"]
    ]


def conclusions(results, original):
    """Every conclusion sentence, in the order the report lists them."""
    if not results:
        return []
    return [
        best(results),
        *pairs(results),
        *cost(results),
        memory(results),
        *against_original(results, original),
        *weights_warnings(results),
    ]
