"""Voucher test set-up: a live voucher promotion and its batch, generated."""

from django.test import TestCase

from promotions.models import Promotion
from promotions.services.lifecycle import promotion_save
from promotions.tests.factories import PromotionFactory
from vouchers.models import VoucherBatch
from vouchers.services import voucher_batch_create


def voucher_promotion(tenant, **fields) -> Promotion:
    """An active 10% promotion on every product of the tenant's brand."""
    fields.setdefault("params", {"percent": "10"})
    fields.setdefault("name", "Ten percent voucher")
    with TestCase.captureOnCommitCallbacks(execute=True):
        return promotion_save(
            promotion=PromotionFactory.build(
                brand=tenant.brand, status="active", all_products=True, **fields
            )
        )


def batch(promotion: Promotion, **fields) -> VoucherBatch:
    """A batch of `quantity` codes (default 5), generated at once (eager tasks)."""
    fields.setdefault("name", "Spring mailing")
    fields.setdefault("quantity", 5)
    with TestCase.captureOnCommitCallbacks(execute=True):
        made = voucher_batch_create(promotion=promotion, **fields)
    made.refresh_from_db()
    return made
