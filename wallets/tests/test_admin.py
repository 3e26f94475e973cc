"""The wallet admin: a wallet with its ledger read-only, an adjust form with real fields,
scoped to the user's brands."""

from decimal import Decimal

import pytest

from brands.roles import MARKETING_MANAGER, SUPPORT_AGENT
from core.tests.api_world import staff_user
from wallets.models import Wallet, WalletTransaction
from wallets.services import wallet_credit

pytestmark = pytest.mark.django_db
WALLETS_URL = "/admin/wallets/wallet/"
LEDGER_URL = "/admin/wallets/wallettransaction/"


def funded(tenant) -> Wallet:
    return wallet_credit(
        customer=tenant.customer,
        brand=tenant.brand,
        amount=Decimal("30.00"),
        idempotency_key=f"admin-{tenant.brand.slug}",
    ).transaction.wallet


def test_a_wallet_page_shows_its_ledger_read_only_and_the_adjust_button(client, a):
    wallet = funded(a)
    client.force_login(a.staff)

    page = client.get(f"{WALLETS_URL}{wallet.pk}/change/").content.decode()

    assert "Adjust wallet" in page
    assert "Credit" in page and "30.00" in page
    assert 'name="transactions-0-amount"' not in page


def test_the_adjust_form_debits_with_a_reason_and_says_so_in_a_sentence(client, a):
    wallet = funded(a)
    client.force_login(a.staff)

    response = client.post(
        f"{WALLETS_URL}{wallet.pk}/adjust/",
        {"direction": "debit", "amount": "12.50", "reason": "Duplicate top-up"},
        follow=True,
    )

    assert "Wallet adjusted by -12.50 EUR; the balance is now 17.50 EUR." in (
        response.content.decode()
    )
    row = WalletTransaction.objects.get(kind=WalletTransaction.Kind.ADJUSTMENT)
    assert (row.amount, row.reason, row.actor) == (Decimal("-12.50"), "Duplicate top-up", a.staff)


def test_the_adjust_form_refuses_more_than_the_wallet_holds_in_plain_words(client, a):
    wallet = funded(a)
    client.force_login(a.staff)

    response = client.post(
        f"{WALLETS_URL}{wallet.pk}/adjust/",
        {"direction": "debit", "amount": "30.01", "reason": "Too much"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "The wallet holds 30.00, less than asked." in page
    assert "wallet_insufficient" not in page
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("30.00")


def test_a_support_agent_over_the_limit_is_told_and_nothing_moves(client, a):
    wallet = funded(a)
    client.force_login(staff_user("agent", role=SUPPORT_AGENT, brands=[a.brand]))

    page = client.post(
        f"{WALLETS_URL}{wallet.pk}/adjust/",
        {"direction": "credit", "amount": "50.01", "reason": "Goodwill"},
    ).content.decode()

    assert "Your role adjusts a wallet by at most 50.00 at a time." in page
    assert WalletTransaction.objects.count() == 1


def test_another_brands_wallet_is_not_found_and_a_role_without_the_permission_is_refused(
    client, a, b
):
    other = funded(b)
    own = funded(a)
    client.force_login(a.staff)
    foreign = client.get(f"{WALLETS_URL}{other.pk}/adjust/")
    client.force_login(staff_user("mm", role=MARKETING_MANAGER, brands=[a.brand]))
    refused = client.post(
        f"{WALLETS_URL}{own.pk}/adjust/",
        {"direction": "credit", "amount": "5.00", "reason": "No"},
    )

    assert foreign.status_code == 404
    assert refused.status_code == 403
    assert WalletTransaction.objects.count() == 2


def test_a_ledger_row_cannot_be_changed_or_deleted(client, a):
    funded(a)
    row = WalletTransaction.objects.get()
    client.force_login(staff_user("root", superuser=True))

    change = client.post(f"{LEDGER_URL}{row.pk}/change/", {"amount": "999.00"})
    delete = client.post(f"{LEDGER_URL}{row.pk}/delete/", {"post": "yes"})

    assert (change.status_code, delete.status_code) == (403, 403)
    row.refresh_from_db()
    assert row.amount == Decimal("30.00")
