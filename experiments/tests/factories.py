"""Experiment test set-up: live promotions as variants, an experiment through the service."""

from datetime import timedelta
from decimal import Decimal

from django.test import TestCase
from django.utils import timezone

from experiments.models import Experiment
from experiments.services import VariantInput, experiment_create, experiment_start
from orders.models import Order
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory


def live_promotion(tenant, percent: str, **fields):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(
                brand=tenant.brand,
                status="active",
                all_products=True,
                params={"percent": percent},
                name=f"{percent}% off",
                **fields,
            )
        )


def running_experiment(tenant, *variants: VariantInput, start=True, **fields) -> Experiment:
    now = timezone.now()
    fields.setdefault("starts_at", now - timedelta(hours=1))
    fields.setdefault("ends_at", now + timedelta(days=14))
    experiment = experiment_create(
        brand=tenant.brand, name="Ten or fifteen", variants=variants, **fields
    )
    if start:
        with TestCase.captureOnCommitCallbacks(execute=True):
            experiment_start(experiment_id=experiment.pk)
    experiment.refresh_from_db()
    return experiment


def order(tenant, customer, total, discount="0.00", at=None, status="paid"):
    """A paid order of the given total written directly (results read only its totals)."""
    total, discount = Decimal(total), Decimal(discount)
    return Order.objects.create(
        brand=tenant.brand,
        customer=customer,
        currency="EUR",
        subtotal=total + discount,
        discount_total=discount,
        total=total,
        payment_status=status,
        created_at=at or timezone.now(),
    )
