"""The wallet ledger: credits, adjustments, expiry and refunds, idempotent and never negative."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from core.errors import ApplicationError, PermissionDeniedError
from core.tests.api_world import staff_user
from wallets.models import Wallet, WalletTransaction
from wallets.services import wallet_adjust, wallet_credit, wallet_expire

pytestmark = pytest.mark.django_db
Kind = WalletTransaction.Kind


def test_a_credit_opens_the_wallet_and_a_replay_changes_nothing(a):
    first = wallet_credit(
        customer=a.customer, brand=a.brand, amount=Decimal("20.00"), idempotency_key="gift-1"
    )
    again = wallet_credit(
        customer=a.customer, brand=a.brand, amount=Decimal("20.00"), idempotency_key="gift-1"
    )

    wallet = Wallet.objects.get(customer=a.customer, brand=a.brand)
    assert (first.created, again.created) == (True, False)
    assert again.transaction.pk == first.transaction.pk
    assert wallet.balance == Decimal("20.00")
    assert wallet.currency == a.brand.currency
    assert first.transaction.balance_after == Decimal("20.00")


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.001", "100000.01"])
def test_a_credit_of_a_bad_amount_is_refused(a, amount):
    with pytest.raises(ApplicationError) as caught:
        wallet_credit(
            customer=a.customer, brand=a.brand, amount=Decimal(amount), idempotency_key="k"
        )
    assert caught.value.code == "invalid_wallet_amount"
    assert not WalletTransaction.objects.exists()


def _funded(a, amount="30.00") -> Wallet:
    wallet_credit(customer=a.customer, brand=a.brand, amount=Decimal(amount), idempotency_key="top")
    return Wallet.objects.get(customer=a.customer, brand=a.brand)


def test_an_adjustment_needs_a_reason_and_never_takes_the_wallet_below_zero(a):
    wallet = _funded(a)

    with pytest.raises(ApplicationError) as no_reason:
        wallet_adjust(wallet_id=wallet.pk, amount=Decimal("-5.00"), reason="  ", actor=a.staff)
    with pytest.raises(ApplicationError) as too_much:
        wallet_adjust(wallet_id=wallet.pk, amount=Decimal("-30.01"), reason="Fix", actor=a.staff)
    write = wallet_adjust(
        wallet_id=wallet.pk, amount=Decimal("-30.00"), reason="Fix", actor=a.staff
    )

    assert no_reason.value.code == "reason_required"
    assert too_much.value.code == "wallet_insufficient"
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("0.00")
    assert write.transaction.actor == a.staff
    assert write.transaction.reason == "Fix"
    assert WalletTransaction.objects.filter(kind=Kind.ADJUSTMENT).count() == 1


def test_a_support_agent_adjusts_within_the_limit_of_the_role(a):
    wallet = _funded(a)
    agent = staff_user("agent", role="Support agent", brands=[a.brand])

    wallet_adjust(wallet_id=wallet.pk, amount=Decimal("50.00"), reason="Goodwill", actor=agent)
    with pytest.raises(PermissionDeniedError) as caught:
        wallet_adjust(wallet_id=wallet.pk, amount=Decimal("50.01"), reason="Goodwill", actor=agent)
    wallet_adjust(wallet_id=wallet.pk, amount=Decimal("500.00"), reason="Big", actor=a.staff)

    assert caught.value.code == "wallet_adjustment_over_limit"
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("580.00")


def test_expiry_takes_at_most_the_balance_once(a):
    wallet = _funded(a)

    first = wallet_expire(wallet_id=wallet.pk, amount=Decimal("50.00"), idempotency_key="exp-1")
    again = wallet_expire(wallet_id=wallet.pk, amount=Decimal("50.00"), idempotency_key="exp-1")
    empty = wallet_expire(wallet_id=wallet.pk, idempotency_key="exp-2")

    assert first.transaction.amount == Decimal("-30.00")
    assert again.created is False
    assert empty is None
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("0.00")


def test_the_database_refuses_a_negative_balance_whatever_the_code(a):
    wallet = _funded(a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("-0.01"))
