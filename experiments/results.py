"""What an experiment shows, per variant, against its control. Every metric is defined here
once (the README repeats these definitions):

- exposed customers: customers whose basket was priced under the experiment (their first time
  is their exposure, `ExperimentExposure`);
- their orders: the brand's orders of an exposed customer placed from their exposure until the
  experiment ended (its end, or when it was stopped, whichever came first) and paid (paid,
  partially refunded or refunded);
- conversion rate: exposed customers with at least one such order / exposed customers;
- revenue per customer: the mean over exposed customers (0 for those who bought nothing) of
  what their orders came to after every discount, less refunds;
- average order value: the mean of the same per order;
- discount cost per customer: the mean of the discounts and cashback their orders received;
- margin per customer: revenue per customer x the experiment's gross margin - cashback per
  customer (discounts are already out of the revenue); incremental margin is the variant's
  margin per customer less the control's.

Tests, each variant against the control, at 95%: the conversion rate by a two-proportion z-test
(pooled standard error for the p-value, unpooled for the interval of the difference, kept
within -1..1), each variant's own rate with a Wilson score interval; the
means by Welch's t-test (unequal variances; Welch-Satterthwaite degrees of freedom for the
interval), all with scipy. While a variant has fewer than MIN_CUSTOMERS exposed customers or
fewer than MIN_BUYERS buyers, the results carry a warning that the sample is too small to
decide. Money figures are Decimals rounded half up to the cent; rates and p-values are floats
(they are estimates, not amounts).
"""

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from scipy import stats

from experiments.models import Experiment, ExperimentExposure, ExperimentVariant
from orders.models import Order

MIN_CUSTOMERS = 100
MIN_BUYERS = 10
CONFIDENCE = 0.95
PAID = (
    Order.PaymentStatus.PAID,
    Order.PaymentStatus.PARTIALLY_REFUNDED,
    Order.PaymentStatus.REFUNDED,
)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Comparison:
    """The variant's figure less the control's, its interval and p-value (None when it cannot
    be computed: too few values, or no variance at all)."""

    difference: float
    low: float | None
    high: float | None
    p_value: float | None


@dataclass
class VariantResult:
    variant_id: int
    name: str
    is_control: bool
    promotion_id: int | None
    customers: int = 0
    buyers: int = 0
    orders: int = 0
    conversion_rate: float = 0.0
    # The 95% Wilson score interval of the variant's own conversion rate (None: no customer).
    conversion_low: float | None = None
    conversion_high: float | None = None
    revenue_per_customer: Decimal = Decimal("0.00")
    average_order_value: Decimal = Decimal("0.00")
    discount_cost_per_customer: Decimal = Decimal("0.00")
    margin_per_customer: Decimal = Decimal("0.00")
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    # per-customer and per-order values, kept for the tests against the control
    _revenue: list[float] = field(default_factory=list, repr=False)
    _discount: list[float] = field(default_factory=list, repr=False)
    _margin: list[float] = field(default_factory=list, repr=False)
    _order_values: list[float] = field(default_factory=list, repr=False)


@dataclass
class ExperimentResults:
    experiment_id: int
    currency: str
    window_end: object
    variants: list[VariantResult]
    warnings: list[str]

    @property
    def control(self) -> VariantResult:
        return next(v for v in self.variants if v.is_control)


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def welch(variant: list[float], control: list[float]) -> Comparison:
    """Difference of means with Welch's interval and p-value."""
    difference = _mean(variant) - _mean(control)
    if len(variant) < 2 or len(control) < 2:
        return Comparison(difference, None, None, None)
    v1 = statistics.variance(variant) / len(variant)
    v0 = statistics.variance(control) / len(control)
    se = math.sqrt(v1 + v0)
    if se == 0:
        return Comparison(difference, difference, difference, None)
    df = (v1 + v0) ** 2 / (v1**2 / (len(variant) - 1) + v0**2 / (len(control) - 1))
    t = stats.t.ppf((1 + CONFIDENCE) / 2, df)
    p_value = float(stats.ttest_ind(variant, control, equal_var=False).pvalue)
    return Comparison(difference, difference - t * se, difference + t * se, p_value)


def wilson_interval(successes: int, trials: int) -> tuple[float | None, float | None]:
    """The Wilson score interval of a rate (inside 0..1, and not empty with few trials)."""
    if not trials:
        return None, None
    z = stats.norm.ppf((1 + CONFIDENCE) / 2)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportions(x1: int, n1: int, x0: int, n0: int) -> Comparison:
    """Difference of rates x1/n1 - x0/n0: z-test p-value (pooled), interval (unpooled)."""
    if not n1 or not n0:
        return Comparison(0.0, None, None, None)
    p1, p0 = x1 / n1, x0 / n0
    difference = p1 - p0
    pooled = (x1 + x0) / (n1 + n0)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = stats.norm.ppf((1 + CONFIDENCE) / 2)
    p_value = None if se_pooled == 0 else float(2 * stats.norm.sf(abs(difference) / se_pooled))
    # A difference of rates lies in [-1, 1]; the normal interval can pass that with few trials.
    low, high = max(-1.0, difference - z * se), min(1.0, difference + z * se)
    return Comparison(difference, low, high, p_value)


def experiment_results(*, experiment: Experiment) -> ExperimentResults:
    """The experiment's figures per variant (four queries: the brand, the variants, the
    exposures, their orders)."""
    variants = {
        v.pk: VariantResult(
            variant_id=v.pk, name=v.name, is_control=v.is_control, promotion_id=v.promotion_id
        )
        for v in ExperimentVariant.objects.filter(experiment=experiment).order_by("pk")
    }
    end = min(filter(None, [experiment.ends_at, experiment.stopped_at, timezone.now()]))
    exposures: dict[int, int] = {}
    exposed_at = {}
    for customer_id, variant_id, at in ExperimentExposure.objects.filter(
        experiment=experiment, exposed_at__lt=end
    ).values_list("customer_id", "variant_id", "exposed_at"):
        exposures[customer_id] = variant_id
        exposed_at[customer_id] = at
    revenue: dict[int, float] = defaultdict(float)
    discount: dict[int, float] = defaultdict(float)
    cashback: dict[int, float] = defaultdict(float)
    orders_of: dict[int, list[float]] = defaultdict(list)
    rows = (
        Order.objects.filter(
            brand_id=experiment.brand_id,
            customer_id__in=list(exposures),
            payment_status__in=PAID,
            created_at__gte=experiment.starts_at,
            created_at__lt=end,
        )
        .values_list(
            "customer_id",
            "created_at",
            "total",
            "refunded_amount",
            "discount_total",
            "cashback_total",
        )
        .iterator(chunk_size=5000)
    )
    for customer_id, created_at, total, refunded, discounts, cash in rows:
        if created_at < exposed_at[customer_id]:
            continue
        net = float(total - refunded)
        revenue[customer_id] += net
        discount[customer_id] += float(discounts + cash)
        cashback[customer_id] += float(cash)
        orders_of[customer_id].append(net)
    margin_rate = float(experiment.gross_margin_percent) / 100
    for customer_id, variant_id in exposures.items():
        result = variants.get(variant_id)
        if result is None:
            continue
        result.customers += 1
        result.buyers += bool(orders_of[customer_id])
        result.orders += len(orders_of[customer_id])
        result._revenue.append(revenue[customer_id])
        result._discount.append(discount[customer_id])
        result._margin.append(revenue[customer_id] * margin_rate - cashback[customer_id])
        result._order_values.extend(orders_of[customer_id])
    for result in variants.values():
        result.conversion_rate = result.buyers / result.customers if result.customers else 0.0
        result.conversion_low, result.conversion_high = wilson_interval(
            result.buyers, result.customers
        )
        result.revenue_per_customer = _money(_mean(result._revenue))
        result.average_order_value = _money(_mean(result._order_values))
        result.discount_cost_per_customer = _money(_mean(result._discount))
        result.margin_per_customer = _money(_mean(result._margin))
    ordered = list(variants.values())
    control = next(v for v in ordered if v.is_control)
    for result in ordered:
        if result is control:
            continue
        result.comparisons = {
            "conversion_rate": two_proportions(
                result.buyers, result.customers, control.buyers, control.customers
            ),
            "revenue_per_customer": welch(result._revenue, control._revenue),
            "average_order_value": welch(result._order_values, control._order_values),
            "discount_cost_per_customer": welch(result._discount, control._discount),
            "incremental_margin": welch(result._margin, control._margin),
        }
    warnings = []
    small = [v.name for v in ordered if v.customers < MIN_CUSTOMERS or v.buyers < MIN_BUYERS]
    if small:
        warnings.append(
            f"The sample is too small to decide: every variant needs at least {MIN_CUSTOMERS} "
            f"customers and {MIN_BUYERS} buyers ({', '.join(small)} not yet)."
        )
    return ExperimentResults(
        experiment_id=experiment.pk,
        currency=experiment.brand.currency,
        window_end=end,
        variants=ordered,
        warnings=warnings,
    )
