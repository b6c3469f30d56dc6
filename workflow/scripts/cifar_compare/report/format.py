"""How the report writes numbers; one place, so text, tables and tests agree."""

from cifar_compare.report.stats import ALPHA

DASH = "\u2014"  # no value


def percent(fraction):
    """An accuracy fraction as the report prints it: 0.7234 -> '72.34'."""
    return f"{100 * fraction:.2f}"


def accuracy_text(mean, std):
    """'72.34 ± 0.56' over several seeds; '72.34' for one."""
    return percent(mean) if std is None else f"{percent(mean)} ± {percent(std)}"


def count(number):
    return f"{number:,}"


def seconds(value):
    return f"{value:,.1f}"


def rate(value):
    return f"{value:,.0f}"


def megabytes(value):
    return "n/a" if value is None else f"{value:,.0f}"


def size_bytes(number):
    """Bytes in binary units: '29.9 GiB', '480.0 MiB'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if number >= scale:
            return f"{number / scale:,.1f} {unit}"
    return f"{number} B"


def ratio(value):
    """A ratio to three significant digits: '59.6', '0.00221'."""
    return f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"


def interval_text(interval):
    """A 95 % interval of an accuracy, in percent: '71.46–73.21'."""
    return f"{percent(max(interval.low, 0.0))}–{percent(min(interval.high, 1.0))}"


def signed_points(difference):
    """A signed difference of fractions in points: '+3.20', '−0.41'."""
    return f"{100 * difference:+.2f}".replace("-", "\u2212")


def difference_interval(interval):
    """Interval of a difference, in signed points: '+1.20 to +5.10'."""
    return f"{signed_points(interval.low)} to {signed_points(interval.high)}"


def p_value(value, alpha=ALPHA):
    """'0.031', '0.0004', '3.2e-12'; '—' when there is no test. Digits are added until
    the printed value falls on the same side of `alpha` as the value itself, so a p of
    0.0496 prints '0.0496' beside its verdict, never '0.050'."""
    if value is None:
        return DASH
    if value == 0:  # below the smallest float
        return "< 1e-300"
    if value < 0.0001:
        return f"{value:.1e}"
    for digits in range(3 if value >= 0.001 else 4, 10):
        shown = f"{value:.{digits}f}"
        if (float(shown) < alpha) == (value < alpha):
            return shown
    return repr(value)
