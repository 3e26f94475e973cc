from decimal import Decimal

import pytest

from customers.tests.factories import CustomerFactory
from loyalty_management.models import LoyaltyAccount, LoyaltyTransaction
from loyalty_management.tests.factories import LoyaltyProgramFactory
from rewards.models import CustomerReward, RewardKind
from rewards.services import CODE_ALPHABET, CODE_PREFIX, RewardSpec, reward_issue, reward_spec
from rewards.tests.factories import RewardTemplateFactory
from wallets.models import Wallet

pytestmark = pytest.mark.django_db


def test_a_discount_reward_gets_a_single_use_code_valid_for_its_days():
    template = RewardTemplateFactory(amount=Decimal("7.50"), valid_days=14)
    customer = CustomerFactory()
    reward, created = reward_issue(
        customer=customer,
        brand=template.brand,
        spec=reward_spec(template),
        template=template,
        idempotency_key="staff:1",
        source=CustomerReward.Source.STAFF,
    )
    assert created
    assert reward.status == CustomerReward.Status.ACTIVE
    assert reward.code.startswith(CODE_PREFIX) and len(reward.code) == 12
    assert set(reward.code[2:]) <= set(CODE_ALPHABET)
    assert (reward.valid_until - reward.created_at).days == 14
    assert reward.amount == Decimal("7.50") and reward.template == template


def test_issuing_again_with_the_same_key_returns_the_first_reward():
    template = RewardTemplateFactory()
    customer = CustomerFactory()
    first, _ = reward_issue(
        customer=customer,
        brand=template.brand,
        spec=reward_spec(template),
        idempotency_key="k",
        source="staff",
    )
    again, created = reward_issue(
        customer=customer,
        brand=template.brand,
        spec=reward_spec(template),
        idempotency_key="k",
        source="staff",
    )
    assert not created and again.pk == first.pk
    assert CustomerReward.objects.count() == 1


def test_a_points_reward_credits_the_ledger_once_and_is_used_at_once():
    program = LoyaltyProgramFactory()
    customer = CustomerFactory()
    spec = RewardSpec(name="Welcome points", kind=RewardKind.POINTS, points=150)
    for _ in range(2):
        reward, _ = reward_issue(
            customer=customer, brand=program.brand, spec=spec, idempotency_key="p", source="rule"
        )
    account = LoyaltyAccount.objects.get(customer=customer, program=program)
    assert account.available_points == 150
    assert reward.status == CustomerReward.Status.USED and reward.code is None
    assert reward.loyalty_transaction.kind == LoyaltyTransaction.Kind.BONUS


def test_a_wallet_reward_credits_the_brand_wallet():
    template = RewardTemplateFactory(kind=RewardKind.WALLET_CREDIT, amount=Decimal("12.00"))
    customer = CustomerFactory()
    reward, _ = reward_issue(
        customer=customer,
        brand=template.brand,
        spec=reward_spec(template),
        idempotency_key="w",
        source="campaign",
    )
    assert Wallet.objects.get(customer=customer, brand=template.brand).balance == Decimal("12.00")
    assert reward.wallet_transaction.amount == Decimal("12.00")
