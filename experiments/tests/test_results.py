"""Results on a small data set whose answer was computed by hand (the arithmetic is in the
comments): four control customers, four variant customers, their orders."""

from datetime import timedelta
from decimal import Decimal

import pytest

from customers.services import customer_create
from experiments.models import ExperimentExposure
from experiments.results import experiment_results, two_proportions, welch
from experiments.services import VariantInput
from experiments.tests.factories import live_promotion, order, running_experiment

pytestmark = pytest.mark.django_db


def test_the_figures_of_a_hand_computed_experiment(a):
    ten = live_promotion(a, "10")
    experiment = running_experiment(
        a,
        VariantInput(name="Control", promotion=None, is_control=True),
        VariantInput(name="Ten off", promotion=ten),
        gross_margin_percent=Decimal("30"),
    )
    control, treated = experiment.variants.order_by("pk")
    people = [
        customer_create(brand=a.brand, email=f"r{i}@example.com", first_name=f"R{i}")
        for i in range(9)
    ]
    exposed = experiment.starts_at + timedelta(minutes=5)
    for person, variant in zip(people[:8], [control] * 4 + [treated] * 4, strict=True):
        ExperimentExposure.objects.create(
            experiment=experiment, variant=variant, customer=person, exposed_at=exposed
        )
    c1, c2, _c3, _c4, b1, b2, b3, _b4, outsider = people
    later = exposed + timedelta(minutes=1)
    order(a, c1, "20.00", at=later)
    order(a, c2, "10.00", at=later)
    order(a, c2, "30.00", at=later)
    order(a, b1, "18.00", "2.00", at=later)
    order(a, b2, "27.00", "3.00", at=later)
    order(a, b3, "9.00", "1.00", at=later)
    # None of these count: before the exposure, not paid, not exposed
    order(a, c1, "99.00", at=exposed - timedelta(minutes=1))
    order(a, b1, "99.00", at=later, status="pending")
    order(a, outsider, "99.00", at=later)

    results = experiment_results(experiment=experiment)

    by_name = {v.name: v for v in results.variants}
    c, b = by_name["Control"], by_name["Ten off"]
    # Control: 2 of 4 bought; revenue (20 + 40 + 0 + 0) / 4 = 15.00; orders 60 / 3 = 20.00;
    # margin 15.00 x 30% = 4.50
    assert (c.customers, c.buyers, c.orders, c.conversion_rate) == (4, 2, 3, 0.5)
    assert (c.revenue_per_customer, c.average_order_value) == (Decimal("15.00"), Decimal("20.00"))
    assert (c.discount_cost_per_customer, c.margin_per_customer) == (
        Decimal("0.00"),
        Decimal("4.50"),
    )
    # Ten off: 3 of 4 bought; revenue (18 + 27 + 9 + 0) / 4 = 13.50; orders 54 / 3 = 18.00;
    # discounts (2 + 3 + 1 + 0) / 4 = 1.50; margin 13.50 x 30% = 4.05
    assert (b.customers, b.buyers, b.orders, b.conversion_rate) == (4, 3, 3, 0.75)
    assert (b.revenue_per_customer, b.average_order_value) == (Decimal("13.50"), Decimal("18.00"))
    assert (b.discount_cost_per_customer, b.margin_per_customer) == (
        Decimal("1.50"),
        Decimal("4.05"),
    )
    # Conversion: +0.25; pooled p = 5/8, SE = sqrt(0.625 x 0.375 x (1/4 + 1/4)) = 0.342327,
    # z = 0.730297, two-sided p = 0.46521; unpooled SE = sqrt(0.75 x 0.25 / 4 + 0.25 / 4)
    # = 0.330719, interval 0.25 -/+ 1.959964 x 0.330719 = [-0.398197, 0.898197]
    conversion = b.comparisons["conversion_rate"]
    assert conversion.difference == pytest.approx(0.25)
    assert conversion.p_value == pytest.approx(0.46521, abs=1e-5)
    assert (conversion.low, conversion.high) == (
        pytest.approx(-0.398197, abs=1e-6),
        pytest.approx(0.898197, abs=1e-6),
    )
    # Revenue per customer: -1.50; variances 405/3 = 135 and 1100/3; SE^2 = 135/4 + 1100/12
    # = 125.4167, SE = 11.19896, Welch df = 4.94538, t = -0.133941, two-sided p = 0.89873,
    # interval -1.5 -/+ t(0.975, 4.94538) x 11.19896 = [-30.3837, 27.3837]
    revenue = b.comparisons["revenue_per_customer"]
    assert revenue.difference == pytest.approx(-1.5)
    assert revenue.p_value == pytest.approx(0.89873, abs=1e-5)
    assert (revenue.low, revenue.high) == (
        pytest.approx(-30.3837, abs=1e-4),
        pytest.approx(27.3837, abs=1e-4),
    )
    # Eight customers decide nothing
    assert results.warnings and "too small to decide" in results.warnings[0]
    assert c.comparisons == {}


def test_no_variance_and_empty_samples_give_no_p_value():
    assert welch([1.0, 1.0], [1.0, 1.0]).p_value is None
    assert welch([1.0], [2.0, 3.0]).low is None
    assert two_proportions(0, 0, 1, 2).p_value is None
    assert two_proportions(0, 5, 0, 5).p_value is None
