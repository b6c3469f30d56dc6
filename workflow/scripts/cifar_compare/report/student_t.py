"""Student's t distribution for any (also fractional) degrees of freedom, without scipy:
the two-sided tail from the regularised incomplete beta function, the quantile by
bisection on it. df = inf is the normal distribution."""

import functools
import math

NORMAL_975 = 1.959963984540054


def _beta_continued_fraction(a, b, x):
    """Lentz's continued fraction of I_x(a, b) (Numerical Recipes, betacf)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return fraction


def incomplete_beta(a, b, x):
    """Regularised incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0 or x >= 1:
        return float(x >= 1)
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):  # where the fraction converges fast; else by symmetry
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_continued_fraction(b, a, 1 - x) / b


def two_sided_p(t, df):
    """P(|T| >= |t|) for T ~ Student t with df degrees of freedom."""
    if math.isinf(df):
        return math.erfc(abs(t) / math.sqrt(2))
    return incomplete_beta(df / 2, 0.5, df / (df + t * t))


@functools.cache  # a 200-step bisection; the report asks for the same df per interval and its test
def quantile_975(df):
    """The 0.975 quantile: the half-width multiplier of a 95 % interval."""
    if math.isinf(df):
        return NORMAL_975
    low, high = NORMAL_975, 1e4  # the t quantile lies above the normal one
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if two_sided_p(middle, df) > 0.05 else (low, middle)
    return (low + high) / 2
