import pytest
from django.contrib.auth.models import Group

from brands.roles import SUPPORT_AGENT
from brands.tests.factories import StaffUserFactory, UserFactory
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.services.ledger import ledger_credit
from loyalty_management.tests.factories import LoyaltyProgramFactory

pytestmark = pytest.mark.django_db
Kind = LoyaltyTransaction.Kind
ACCOUNTS_URL = "/admin/loyalty_management/loyaltyaccount/"
LEDGER_URL = "/admin/loyalty_management/loyaltytransaction/"
PROGRAMS_URL = "/admin/loyalty_management/loyaltyprogram/"


@pytest.fixture
def account():
    account = LoyaltyAccount.objects.create(
        customer=CustomerFactory(), program=LoyaltyProgramFactory()
    )
    ledger_credit(account_id=account.pk, kind=Kind.BONUS, points=40, idempotency_key="b")
    return account


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_an_account_page_shows_its_ledger_read_only(superuser_client, account):
    response = superuser_client.get(f"{ACCOUNTS_URL}{account.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Adjust points" in page
    assert "Bonus" in page  # the ledger row is listed
    assert 'name="transactions-0-points"' not in page  # no editable ledger row


def test_a_ledger_row_cannot_be_changed_or_deleted_in_the_admin(superuser_client, account):
    # Given a ledger row
    row = LoyaltyTransaction.objects.get()

    # When a superuser tries to change or delete it, or to add one by hand
    change = superuser_client.post(f"{LEDGER_URL}{row.pk}/change/", {"points": 9999})
    delete = superuser_client.post(f"{LEDGER_URL}{row.pk}/delete/", {"post": "yes"})
    add = superuser_client.get(f"{LEDGER_URL}add/")

    # Then nothing is allowed and the row is unchanged
    assert change.status_code == 403
    assert delete.status_code == 403
    assert add.status_code == 403
    row.refresh_from_db()
    assert row.points == 40
    assert superuser_client.get(f"{LEDGER_URL}?kind=bonus").status_code == 200


def test_the_adjustment_form_records_a_reasoned_adjustment(superuser_client, account):
    # When an adjustment without a reason, then with one, is submitted
    url = f"{ACCOUNTS_URL}{account.pk}/adjust/"
    refused = superuser_client.post(url, {"points": "-50", "reason": ""})
    done = superuser_client.post(url, {"points": "-50", "reason": "Fraud"})

    # Then only the second is recorded, and the account went negative
    assert refused.status_code == 200
    assert done.status_code == 302
    adjustment = LoyaltyTransaction.objects.get(kind=Kind.ADJUSTED)
    assert (adjustment.points, adjustment.reason) == (-50, "Fraud")
    account.refresh_from_db()
    assert account.available_points == -10


def test_a_support_agent_adjusts_only_their_brands_accounts(client, account):
    # Given a support agent of another brand, then of the account's brand
    agent = StaffUserFactory()
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client.force_login(agent)
    url = f"{ACCOUNTS_URL}{account.pk}/adjust/"

    # When they try to adjust before and after joining the brand
    before = client.post(url, {"points": "5", "reason": "Goodwill"})
    account.program.brand.staff.add(agent)
    after = client.post(url, {"points": "5", "reason": "Goodwill"})

    # Then only the second succeeds
    assert before.status_code == 404
    assert after.status_code == 302
    assert LoyaltyTransaction.objects.filter(kind=Kind.ADJUSTED).count() == 1


def test_a_program_is_edited_with_its_tiers_inline(superuser_client, account):
    response = superuser_client.get(f"{PROGRAMS_URL}{account.program_id}/change/")
    assert response.status_code == 200
    assert 'name="tiers-TOTAL_FORMS"' in response.content.decode()
