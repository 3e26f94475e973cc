"""Wallet credit left untouched for WALLET_EXPIRY_INACTIVE_DAYS expires, once, whoever runs
the sweep and however often."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from brands.tests.factories import BrandFactory
from customers.services import customer_create
from wallets.models import Wallet, WalletTransaction
from wallets.services import wallet_credit, wallets_expire_inactive
from wallets.tasks import expire_inactive_task

Kind = WalletTransaction.Kind


def wallet_aged(brand, email: str, days: int, amount: str = "20.00") -> Wallet:
    customer = customer_create(brand=brand, email=email)
    write = wallet_credit(
        customer=customer, brand=brand, amount=Decimal(amount), idempotency_key=email
    )
    WalletTransaction.objects.filter(pk=write.transaction.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return write.transaction.wallet


@pytest.mark.django_db
def test_only_wallets_idle_past_the_limit_expire_and_a_second_run_does_nothing():
    brand = BrandFactory()
    idle = wallet_aged(brand, "idle@example.com", days=400)
    active = wallet_aged(brand, "active@example.com", days=10)

    first = wallets_expire_inactive(inactive_days=365, batch_size=1)
    second = wallets_expire_inactive(inactive_days=365, batch_size=1)

    assert (first, second) == (1, 0)
    idle.refresh_from_db()
    active.refresh_from_db()
    assert (idle.balance, active.balance) == (Decimal("0.00"), Decimal("20.00"))
    expiry = WalletTransaction.objects.get(kind=Kind.EXPIRY)
    assert (expiry.wallet_id, expiry.amount, expiry.balance_after) == (
        idle.pk,
        Decimal("-20.00"),
        Decimal("0.00"),
    )


@pytest.mark.django_db
def test_with_no_limit_set_nothing_expires(settings):
    settings.WALLET_EXPIRY_INACTIVE_DAYS = 0
    wallet = wallet_aged(BrandFactory(), "old@example.com", days=5000)

    assert wallets_expire_inactive() == 0
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("20.00")


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_expire_each_wallet_once():
    brand = BrandFactory()
    wallets = [wallet_aged(brand, f"w{index}@example.com", days=400) for index in range(6)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep():
        try:
            barrier.wait()
            wallets_expire_inactive(inactive_days=365, batch_size=2)
        except BaseException as error:  # asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert WalletTransaction.objects.filter(kind=Kind.EXPIRY).count() == len(wallets)
    assert set(Wallet.objects.values_list("balance", flat=True)) == {Decimal("0.00")}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_expiry_sweep(live_celery_worker):
    wallet = wallet_aged(BrandFactory(), "worker@example.com", days=400)

    expire_inactive_task.delay(inactive_days=365)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        wallet.refresh_from_db()
        if wallet.balance == 0:
            break
        time.sleep(0.2)

    assert wallet.balance == Decimal("0.00"), live_celery_worker.log()
    assert "wallets.expire_inactive[" in live_celery_worker.log()
    assert WalletTransaction.objects.filter(kind=Kind.EXPIRY).count() == 1
