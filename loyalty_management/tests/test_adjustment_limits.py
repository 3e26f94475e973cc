"""Manual point adjustments within per-role limits go through at once; above them they wait,
pending, for a brand admin's approval (API and admin), and the daily limit holds under
concurrent requests."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from brands.roles import (
    ADJUSTMENT_LIMITS,
    ANALYST,
    BRAND_ADMIN,
    SUPPORT_AGENT,
    AdjustmentLimit,
    adjustment_limit_for,
)
from brands.tests.factories import BrandFactory
from core.tests.api_world import assert_error, staff_user, token_client
from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyAdjustment, LoyaltyTransaction
from loyalty_management.services.ledger import account_adjust
from loyalty_management.tests.factories import LoyaltyProgramFactory
from loyalty_management.tests.invariants import assert_ledger_invariants
from loyalty_management.tests.test_ledger_concurrency import run_together

Status = LoyaltyAdjustment.Status
LIMIT = ADJUSTMENT_LIMITS[SUPPORT_AGENT]


def adjustments_url(account_id: int) -> str:
    return f"/api/v1/loyalty/accounts/{account_id}/adjustments/"


def decide_url(adjustment_id: int, decision: str) -> str:
    return f"/api/v1/loyalty/adjustments/{adjustment_id}/{decision}/"


@pytest.fixture
def brand():
    return BrandFactory(slug="brand-a")


@pytest.fixture
def account(brand):
    program = LoyaltyProgramFactory(brand=brand)
    return LoyaltyAccount.objects.create(customer=CustomerFactory(), program=program)


@pytest.fixture
def agent(brand):
    return staff_user("agent", role=SUPPORT_AGENT, brands=[brand])


@pytest.fixture
def admin_user(brand):
    return staff_user("brand-admin", role=BRAND_ADMIN, brands=[brand])


def _balance(account) -> int:
    account.refresh_from_db()
    return account.available_points


@pytest.mark.django_db
def test_a_support_agents_huge_adjustment_waits_for_approval(account, agent):
    response = token_client(agent).post(
        adjustments_url(account.pk), {"points": 10_000_000, "reason": "Goodwill"}
    )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["points"], body["transaction"]) == ("pending", 10_000_000, None)
    assert body["requested_by"] == "agent"
    assert not LoyaltyTransaction.objects.exists()
    assert _balance(account) == 0


@pytest.mark.django_db
def test_the_daily_limit_counts_approved_and_pending_adjustments(account, agent):
    client = token_client(agent)
    small = LIMIT.per_adjustment
    # Given the agent used the day's limit, partly with one pending adjustment
    above = client.post(adjustments_url(account.pk), {"points": small + 1, "reason": "Big"})
    assert above.json()["status"] == "pending"
    statuses = []
    used = small + 1
    while used + small <= LIMIT.per_day:
        response = client.post(adjustments_url(account.pk), {"points": -small, "reason": "Fix"})
        statuses.append(response.json()["status"])
        used += small
    # When they adjust once more, within the per-adjustment limit
    over = client.post(adjustments_url(account.pk), {"points": small, "reason": "One more"})

    # Then that one waits too; only the ones within the day's limit went through
    assert statuses and set(statuses) == {"approved"}
    assert (over.status_code, over.json()["status"]) == (202, "pending")
    assert _balance(account) == -small * len(statuses)
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_adjustments_older_than_a_day_and_rejected_ones_do_not_count(account, agent, admin_user):
    yesterday = timezone.now() - timedelta(days=1, minutes=1)
    old = [
        account_adjust(
            account_id=account.pk,
            points=LIMIT.per_adjustment,
            reason="Yesterday",
            actor=agent,
            now=yesterday,
        )
        for _ in range(LIMIT.per_day // LIMIT.per_adjustment)
    ]
    pending = account_adjust(
        account_id=account.pk, points=LIMIT.per_adjustment + 1, reason="Big", actor=agent
    )
    token_client(admin_user).post(decide_url(pending.pk, "reject"))

    latest = account_adjust(
        account_id=account.pk, points=LIMIT.per_adjustment, reason="Now", actor=agent
    )

    assert {adjustment.status for adjustment in old} == {Status.APPROVED}
    assert latest.status == Status.APPROVED


@pytest.mark.django_db
def test_a_brand_admin_approves_a_pending_adjustment_once(account, agent, admin_user):
    pending = account_adjust(account_id=account.pk, points=5_000, reason="Lost card", actor=agent)
    client = token_client(admin_user)

    listed = client.get("/api/v1/loyalty/adjustments/?status=pending")
    approved = client.post(decide_url(pending.pk, "approve"))
    again = client.post(decide_url(pending.pk, "approve"))
    rejected_after = client.post(decide_url(pending.pk, "reject"))

    assert [row["id"] for row in listed.json()["results"]] == [pending.pk]
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert (body["status"], body["decided_by"]) == ("approved", "brand-admin")
    assert_error(again, 409, "adjustment_decided")
    assert_error(rejected_after, 409, "adjustment_decided")
    transaction = LoyaltyTransaction.objects.get()
    assert (transaction.points, transaction.actor, transaction.reason) == (
        5_000,
        agent,
        "Lost card",
    )
    assert body["transaction"] == transaction.pk
    assert _balance(account) == 5_000
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_a_rejected_adjustment_never_reaches_the_ledger(account, agent, admin_user):
    pending = account_adjust(account_id=account.pk, points=-5_000, reason="Fraud?", actor=agent)

    response = token_client(admin_user).post(decide_url(pending.pk, "reject"))

    assert response.json()["status"] == "rejected"
    assert not LoyaltyTransaction.objects.exists()
    assert _balance(account) == 0


@pytest.mark.django_db
def test_who_may_decide(account, agent, brand):
    pending = account_adjust(account_id=account.pk, points=5_000, reason="Big", actor=agent)
    other_admin = staff_user("other-admin", role=BRAND_ADMIN, brands=[BrandFactory()])
    # A support agent who was also granted approval cannot approve their own adjustment
    agent_with_approval = staff_user("agent-2", role=SUPPORT_AGENT, brands=[brand])
    agent_with_approval.user_permissions.add(
        Permission.objects.get(codename="approve_loyaltyadjustment")
    )
    own = account_adjust(
        account_id=account.pk, points=5_000, reason="Mine", actor=agent_with_approval
    )

    assert_error(token_client(agent).post(decide_url(pending.pk, "approve")), 403)
    assert_error(
        token_client(other_admin).post(decide_url(pending.pk, "approve")),
        404,
        "loyalty_adjustment_not_found",
    )
    assert_error(
        token_client(agent_with_approval).post(decide_url(own.pk, "approve")),
        403,
        "own_adjustment",
    )
    assert token_client(other_admin).get("/api/v1/loyalty/adjustments/").json()["count"] == 0
    assert LoyaltyAdjustment.objects.filter(status=Status.PENDING).count() == 2
    assert not LoyaltyTransaction.objects.exists()


@pytest.mark.django_db
def test_brand_admins_and_superusers_have_no_limit(account, admin_user):
    response = token_client(admin_user).post(
        adjustments_url(account.pk), {"points": 1_000_000, "reason": "Migration"}
    )

    assert (response.status_code, response.json()["status"]) == (201, "approved")
    assert adjustment_limit_for(admin_user) is None
    assert adjustment_limit_for(staff_user("root", superuser=True)) is None


@pytest.mark.django_db
def test_a_user_with_several_roles_gets_the_most_generous_limit(brand, monkeypatch):
    monkeypatch.setitem(ADJUSTMENT_LIMITS, ANALYST, AdjustmentLimit(10, 50_000))
    user = staff_user("both", role=SUPPORT_AGENT, brands=[brand])
    user.groups.add(Group.objects.get(name=ANALYST))

    assert adjustment_limit_for(user) == AdjustmentLimit(LIMIT.per_adjustment, 50_000)


@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_cannot_both_slip_under_the_daily_limit(account, agent):
    # Given an agent with room left today for exactly one more full-size adjustment
    size = LIMIT.per_adjustment
    done = 0
    while done + 2 * size <= LIMIT.per_day:
        account_adjust(account_id=account.pk, points=size, reason="Before", actor=agent)
        done += size
    assert done + size <= LIMIT.per_day < done + 2 * size

    # When two such adjustments arrive at the same instant
    def adjust(index: int):
        return lambda: account_adjust(
            account_id=account.pk, points=size, reason=f"Race {index}", actor=agent
        )

    errors = run_together([adjust(1), adjust(2)])

    # Then one went through and the other waits for approval
    assert errors == []
    racing = LoyaltyAdjustment.objects.filter(reason__startswith="Race")
    assert sorted(racing.values_list("status", flat=True)) == ["approved", "pending"]
    assert _balance(account) == done + size
    assert_ledger_invariants(account.pk)


@pytest.mark.django_db
def test_the_admin_form_queues_an_adjustment_above_the_limit(client, account, agent, admin_user):
    client.force_login(agent)
    url = f"/admin/loyalty_management/loyaltyaccount/{account.pk}/adjust/"

    response = client.post(url, {"points": "10000000", "reason": "Goodwill"}, follow=True)

    assert "waits for a brand admin" in response.content.decode()
    pending = LoyaltyAdjustment.objects.get()
    assert pending.status == Status.PENDING
    assert not LoyaltyTransaction.objects.exists()

    # When a brand admin approves it from the adjustments list
    client.force_login(admin_user)
    changelist = "/admin/loyalty_management/loyaltyadjustment/"
    done = client.post(
        changelist, {"action": "approve", "_selected_action": [pending.pk]}, follow=True
    )

    assert done.status_code == 200
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (Status.APPROVED, admin_user)
    assert _balance(account) == 10_000_000


@pytest.mark.django_db
def test_a_support_agent_sees_no_approve_action_in_the_admin(client, account, agent):
    pending = account_adjust(account_id=account.pk, points=5_000, reason="Big", actor=agent)
    client.force_login(agent)
    changelist = "/admin/loyalty_management/loyaltyadjustment/"

    page = client.get(changelist)
    client.post(changelist, {"action": "approve", "_selected_action": [pending.pk]})

    assert page.status_code == 200
    assert 'value="approve"' not in page.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
