"""Counting orders towards cross-brand campaigns and issuing the reward once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brands.tests.factories import BrandFactory
from campaigns.models import CampaignOrder, CampaignProgress
from campaigns.services import (
    campaign_order_record,
    campaign_save,
    process_cross_brand_accumulation,
    requirement_evaluate,
)
from campaigns.tests.factories import make_campaign, paid_order
from core.errors import ApplicationError
from loyalty_management.models import LoyaltyAccount
from loyalty_management.tests.factories import LoyaltyProgramFactory
from notifications.models import Notification
from orders.models import Order
from orders.services.payment import order_set_payment_status
from rewards.models import CustomerReward, RewardTemplate
from wallets.models import Wallet

pytestmark = pytest.mark.django_db
D = Decimal
PS = Order.PaymentStatus


@pytest.fixture
def program(a):
    return LoyaltyProgramFactory(brand=a.brand)


def _progress(campaign, customer) -> CampaignProgress:
    return CampaignProgress.objects.get(campaign=campaign, customer=customer)


def _points(customer, program) -> int:
    return LoyaltyAccount.objects.get(customer=customer, program=program).available_points


# --- the requirement, pure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "met", "brands_missing", "amount_missing"),
    [
        ({}, False, 2, D("40.00")),
        ({1: D("25.00")}, False, 1, D("20.00")),
        ({1: D("25.00"), 2: D("19.99")}, False, 1, D("0.01")),
        ({1: D("20.00"), 2: D("20.00")}, True, 0, D("0.00")),
        ({1: D("20.00"), 2: D("5.00"), 3: D("15.00")}, False, 1, D("5.00")),
        ({1: D("30.00"), 9: D("500.00")}, False, 1, D("20.00")),  # 9 does not take part
    ],
)
def test_each_brand_counts_brands_at_the_threshold(spend, met, brands_missing, amount_missing):
    result = requirement_evaluate(
        requirement="each_brand",
        min_spend_per_brand=D("20.00"),
        min_total_spend=None,
        min_brands=2,
        brand_ids=[1, 2, 3],
        spend_by_brand=spend,
    )
    assert (result.is_met, result.brands_missing, result.amount_missing) == (
        met,
        brands_missing,
        amount_missing,
    )


@pytest.mark.parametrize(
    ("spend", "met", "brands_missing", "amount_missing"),
    [
        ({1: D("100.00")}, False, 1, D("0.00")),  # enough money, one brand
        ({1: D("60.00"), 2: D("39.99")}, False, 0, D("0.01")),
        ({1: D("60.00"), 2: D("40.00")}, True, 0, D("0.00")),
        ({1: D("0.01"), 2: D("99.99")}, True, 0, D("0.00")),
    ],
)
def test_total_needs_the_amount_across_enough_brands(spend, met, brands_missing, amount_missing):
    result = requirement_evaluate(
        requirement="total",
        min_spend_per_brand=None,
        min_total_spend=D("100.00"),
        min_brands=2,
        brand_ids=[1, 2],
        spend_by_brand=spend,
    )
    assert (result.is_met, result.brands_missing, result.amount_missing) == (
        met,
        brands_missing,
        amount_missing,
    )


# --- saving --------------------------------------------------------------------------------------


def test_a_campaign_includes_its_owner_and_refuses_other_currencies(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    assert set(campaign.brands.all()) == {a.brand, b.brand}

    dollars = BrandFactory(slug="dollars", name="Dollar Diner", currency="USD")
    with pytest.raises(ApplicationError) as error:
        make_campaign(owner=a.brand, brands=[b.brand, dollars], name="Dollars")
    assert (
        error.value.message
        == "All the brands of a campaign use one currency: Dollar Diner does not use EUR."
    )
    assert error.value.fields == {"brands": [error.value.message]}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"brands": []},
            "brands",
            "A campaign runs across at least two brands, the owner included.",
        ),
        ({"min_brands": 3}, "min_brands", "The campaign counts 3 brands but only 2 take part."),
    ],
)
def test_campaign_checks_in_plain_words(a, b, program, data, field, message):
    with pytest.raises(ApplicationError) as error:
        make_campaign(owner=a.brand, **({"brands": [b.brand]} | data))
    assert error.value.fields == {field: [message]}


def test_constraints_speak_plainly(a, b, program):
    now = timezone.now()
    with pytest.raises(ValidationError) as error:
        make_campaign(owner=a.brand, brands=[b.brand], starts_at=now, ends_at=now)
    assert "A campaign ends after it starts." in str(error.value)
    with pytest.raises(ValidationError) as error:
        make_campaign(owner=a.brand, brands=[b.brand], reward_points=None)
    assert "A points reward needs a number of points" in str(error.value)


def test_reward_template_must_be_the_owners_and_points_need_a_programme(a, b):
    theirs = RewardTemplate.objects.create(
        brand=b.brand, name="Coffee", kind="discount_amount", amount=D("3.00")
    )
    with pytest.raises(ApplicationError) as error:
        make_campaign(
            owner=a.brand, brands=[b.brand], reward_kind="template", reward_template=theirs
        )
    assert error.value.fields == {
        "reward_template": ["The reward must be one of the owner brand's rewards."]
    }
    with pytest.raises(ApplicationError) as error:
        make_campaign(owner=a.brand, brands=[b.brand])  # points, and brand A has no programme
    assert "no active loyalty programme" in error.value.message


# --- recording orders ---------------------------------------------------------------------


def test_orders_at_two_brands_complete_the_campaign_and_give_the_points_once(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    first = paid_order(tenant=a, customer=a.customer)  # 25.00
    campaign_order_record(order_id=first.pk)
    progress = _progress(campaign, a.customer)
    assert (progress.total_spend, progress.brands_counted, progress.is_met) == (
        D("25.00"),
        1,
        False,
    )
    assert progress.spend_by_brand == {str(a.brand.pk): "25.00"}

    second = paid_order(tenant=b, customer=a.customer)
    result = campaign_order_record(order_id=second.pk)
    again = campaign_order_record(order_id=second.pk)  # a duplicate delivery

    progress.refresh_from_db()
    assert result.rewards_issued == 1 and again.rewards_issued == 0
    assert (progress.total_spend, progress.is_met) == (D("50.00"), True)
    assert progress.completed_at is not None and progress.reward.points == 50
    assert CampaignOrder.objects.filter(campaign=campaign).count() == 2
    rewards = CustomerReward.objects.filter(customer=a.customer, source="campaign")
    assert [r.idempotency_key for r in rewards] == [f"campaign:{campaign.pk}:{a.customer.pk}"]
    assert _points(a.customer, program) == 50
    completed = Notification.objects.get(event="loyalty.campaign.completed")
    assert completed.payload["campaign"] == "Across town" and completed.brand == a.brand


def test_one_brand_alone_never_completes_an_each_brand_campaign(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    for _ in range(3):
        campaign_order_record(order_id=paid_order(tenant=a, customer=a.customer, quantity=4).pk)
    progress = _progress(campaign, a.customer)
    assert (progress.total_spend, progress.is_met, progress.reward) == (D("150.00"), False, None)


def test_total_mode_with_wallet_credit(a, b, program):
    campaign = make_campaign(
        owner=a.brand,
        brands=[b.brand],
        requirement="total",
        min_total_spend=D("60.00"),
        reward_kind="wallet_credit",
        reward_amount=D("7.50"),
    )
    campaign_order_record(order_id=paid_order(tenant=a, customer=a.customer, quantity=4).pk)
    assert not _progress(campaign, a.customer).is_met  # 50.00 at one brand
    campaign_order_record(order_id=paid_order(tenant=b, customer=a.customer, quantity=1).pk)
    progress = _progress(campaign, a.customer)
    assert (progress.total_spend, progress.is_met) == (D("62.50"), True)
    assert Wallet.objects.get(customer=a.customer, brand=a.brand).balance == D("7.50")


def test_reward_template_kind_issues_a_code(a, b, program):
    coffee = RewardTemplate.objects.create(
        brand=a.brand, name="Coffee on us", kind="discount_amount", amount=D("3.00")
    )
    campaign = make_campaign(
        owner=a.brand, brands=[b.brand], reward_kind="template", reward_template=coffee
    )
    for tenant in (a, b):
        campaign_order_record(order_id=paid_order(tenant=tenant, customer=a.customer).pk)
    reward = _progress(campaign, a.customer).reward
    assert (reward.template, reward.kind, reward.status) == (coffee, "discount_amount", "active")
    assert reward.code


def test_orders_outside_the_period_or_of_other_brands_do_not_count(a, b, program):
    now = timezone.now()
    other = BrandFactory(slug="other", name="Other")
    campaign = make_campaign(
        owner=a.brand,
        brands=[b.brand],
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(days=2),
    )
    early = paid_order(tenant=a, customer=a.customer)
    campaign_order_record(order_id=early.pk)
    assert not CampaignProgress.objects.filter(campaign=campaign).exists()

    campaign.starts_at = now - timedelta(days=2)
    campaign.ends_at = early.paid_at  # the end is excluded
    campaign.save()
    assert campaign_order_record(order_id=early.pk).campaigns == 0
    campaign.ends_at = early.paid_at + timedelta(microseconds=1)
    campaign.save()
    assert campaign_order_record(order_id=early.pk).campaigns == 1
    assert not CampaignOrder.objects.filter(brand=other).exists()


def test_an_order_paid_partly_from_the_wallet_counts_only_its_money(a, b, program):
    from wallets.services import wallet_credit

    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    wallet_credit(customer=a.customer, brand=a.brand, amount=D("10.00"), idempotency_key="w")
    order = paid_order(tenant=a, customer=a.customer, wallet_amount=D("10.00"))
    campaign_order_record(order_id=order.pk)
    assert _progress(campaign, a.customer).total_spend == D("15.00")  # 25.00 - 10.00 wallet


def test_refunds_lower_progress_and_a_reward_already_issued_is_kept(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    first = paid_order(tenant=a, customer=a.customer)
    campaign_order_record(order_id=first.pk)
    order_set_payment_status(
        order_id=first.pk, to_status=PS.PARTIALLY_REFUNDED, refund_amount=D("10.00")
    )
    campaign_order_record(order_id=first.pk)
    progress = _progress(campaign, a.customer)
    assert (progress.total_spend, progress.brands_counted) == (D("15.00"), 0)

    second = paid_order(tenant=b, customer=a.customer)
    campaign_order_record(order_id=second.pk)
    assert not _progress(campaign, a.customer).is_met  # 15.00 at A is below 20.00

    third = paid_order(tenant=a, customer=a.customer, quantity=1)
    campaign_order_record(order_id=third.pk)
    assert _progress(campaign, a.customer).is_met
    order_set_payment_status(order_id=second.pk, to_status=PS.REFUNDED)
    campaign_order_record(order_id=second.pk)
    campaign_order_record(order_id=second.pk)

    progress = _progress(campaign, a.customer)
    assert (progress.total_spend, progress.is_met) == (D("27.50"), False)
    assert progress.reward is not None and progress.completed_at is not None
    assert CampaignOrder.objects.get(order=second).amount == D("0.00")
    # Paid again at B: met again, and still one reward.
    campaign_order_record(order_id=paid_order(tenant=b, customer=a.customer).pk)
    assert _progress(campaign, a.customer).is_met
    assert CustomerReward.objects.filter(source="campaign").count() == 1
    assert _points(a.customer, program) == 50


def test_inactive_campaigns_count_nothing(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand], is_active=False)
    campaign_order_record(order_id=paid_order(tenant=a, customer=a.customer).pk)
    assert not CampaignOrder.objects.filter(campaign=campaign).exists()


# --- the safety net ----------------------------------------------------------------------------


def test_the_sweep_repairs_a_lost_delivery_and_issues_the_reward(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    campaign_order_record(order_id=paid_order(tenant=a, customer=a.customer).pk)
    lost = paid_order(tenant=b, customer=a.customer)  # its task never ran
    refunded = paid_order(tenant=a, customer=b.customer)
    campaign_order_record(order_id=refunded.pk)
    order_set_payment_status(order_id=refunded.pk, to_status=PS.REFUNDED)  # task lost too

    result = process_cross_brand_accumulation()

    assert (result.campaigns, result.orders_recorded, result.rewards_issued) == (1, 2, 1)
    assert CampaignOrder.objects.get(order=lost).amount == D("25.00")
    assert CampaignOrder.objects.get(order=refunded).amount == D("0.00")
    assert _progress(campaign, a.customer).reward is not None
    assert _progress(campaign, b.customer).total_spend == D("0.00")
    again = process_cross_brand_accumulation()
    assert (again.orders_recorded, again.rewards_issued) == (0, 0)


def test_the_sweep_recomputes_progress_after_the_campaign_changed(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand], min_spend_per_brand=D("30.00"))
    for tenant in (a, b):
        campaign_order_record(order_id=paid_order(tenant=tenant, customer=a.customer).pk)
    assert not _progress(campaign, a.customer).is_met
    campaign_save(campaign=campaign, data={"min_spend_per_brand": D("25.00")})

    result = process_cross_brand_accumulation()

    assert (result.progress_recomputed, result.rewards_issued) == (1, 1)
    assert _progress(campaign, a.customer).is_met


def test_the_sweep_leaves_campaigns_ended_more_than_a_day_ago(a, b, program):
    campaign = make_campaign(owner=a.brand, brands=[b.brand])
    order = paid_order(tenant=a, customer=a.customer)
    later = campaign.ends_at + timedelta(days=1, seconds=1)
    assert process_cross_brand_accumulation(now=later).campaigns == 0
    assert process_cross_brand_accumulation(now=later - timedelta(seconds=2)).orders_recorded == 1
    assert CampaignOrder.objects.get(order=order).amount == D("25.00")


def test_recording_an_order_costs_a_fixed_number_of_queries_per_campaign(
    a, b, program, django_assert_max_num_queries
):
    # Given one campaign, then three, that an order counts towards
    make_campaign(owner=a.brand, brands=[b.brand])
    first = paid_order(tenant=a, customer=a.customer)
    with CaptureQueriesContext(connection) as one:
        campaign_order_record(order_id=first.pk)
    for index in range(2):
        make_campaign(owner=a.brand, brands=[b.brand], name=f"More {index}")
    second = paid_order(tenant=a, customer=a.customer)

    # Then each more campaign costs the same few queries (lock, row, recompute), no more
    with CaptureQueriesContext(connection) as three:
        campaign_order_record(order_id=second.pk)
    per_campaign = (len(three) - len(one)) / 2
    assert per_campaign <= 7, [q["sql"][:80] for q in three.captured_queries]
    assert len(one) <= 12, [q["sql"][:80] for q in one.captured_queries]
    with django_assert_max_num_queries(len(three)):
        campaign_order_record(order_id=second.pk)  # a replay costs no more
