"""Issuing rewards: the one way a `CustomerReward` is made.

`reward_issue` writes the reward under its `idempotency_key` (a replay returns the first reward
and changes nothing; two concurrent issues with one key make one reward: the unique key decides
and the loser reads the winner's row). Points are credited on the ledger (`bonus`) and wallet
credit to the brand's wallet in the same transaction, both keyed by the reward, so the reward
and what it gave commit together. A discount or free product gets a random single-use code.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from brands.models import Brand
from core.errors import ConflictError
from customers.models import Customer
from loyalty_management.models import LoyaltyTransaction
from loyalty_management.selectors import program_for_brand
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from notifications.services import NotificationService
from rewards.models import CODE_KINDS, CustomerReward, RewardKind, RewardTemplate
from wallets.services import wallet_credit

ISSUED_EVENT = "loyalty.reward.issued"
# Codes avoid the characters people confuse (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
CODE_PREFIX = "RW"


@dataclass(frozen=True)
class RewardSpec:
    """What a reward gives; a template's fields, or a catalogue item's."""

    name: str
    kind: str
    amount: Decimal | None = None
    percentage: Decimal | None = None
    product_id: int | None = None
    points: int | None = None
    minimum_order: Decimal | None = None
    valid_days: int | None = 30


def reward_spec(template: RewardTemplate) -> RewardSpec:
    return RewardSpec(
        name=template.name,
        kind=template.kind,
        amount=template.amount,
        percentage=template.percentage,
        product_id=template.product_id,
        points=template.points,
        minimum_order=template.minimum_order,
        valid_days=template.valid_days,
    )


def reward_code_generate() -> str:
    return CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@transaction.atomic
def reward_issue(
    *,
    customer: Customer,
    brand: Brand,
    spec: RewardSpec,
    idempotency_key: str,
    source: str,
    template: RewardTemplate | None = None,
    reason: str = "",
    actor=None,
    now: datetime | None = None,
) -> tuple[CustomerReward, bool]:
    """Issue `spec` to the customer at the brand. Returns the reward and whether it was issued
    now. Points need the brand's active loyalty programme (`no_loyalty_program` otherwise)."""
    existing = CustomerReward.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    now = now or timezone.now()
    account = None
    if spec.kind == RewardKind.POINTS:
        program = program_for_brand(brand_id=brand.pk)
        if program is None:
            raise ConflictError("This brand has no loyalty programme.", code="no_loyalty_program")
        account = account_get_or_create(customer=customer, program=program)
    is_code = spec.kind in CODE_KINDS
    reward = CustomerReward(
        brand=brand,
        customer=customer,
        template=template,
        source=source,
        name=spec.name,
        kind=spec.kind,
        amount=spec.amount if spec.kind != RewardKind.DISCOUNT_PERCENTAGE else None,
        percentage=spec.percentage if spec.kind == RewardKind.DISCOUNT_PERCENTAGE else None,
        product_id=spec.product_id if spec.kind == RewardKind.FREE_PRODUCT else None,
        points=spec.points if spec.kind == RewardKind.POINTS else None,
        minimum_order=spec.minimum_order if is_code else None,
        valid_until=now + timedelta(days=spec.valid_days) if is_code and spec.valid_days else None,
        status=CustomerReward.Status.ACTIVE if is_code else CustomerReward.Status.USED,
        used_at=None if is_code else now,
        idempotency_key=idempotency_key,
        reason=reason[:255],
        created_at=now,
    )
    for _ in range(5):
        reward.code = reward_code_generate() if is_code else None
        try:
            with transaction.atomic():
                reward.save(force_insert=True)
            break
        except IntegrityError:
            existing = CustomerReward.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
            reward.pk = None  # a code collision: draw another
    else:  # pragma: no cover - five collisions in 31**10 codes
        raise ConflictError("No free reward code was found; try again.", code="code_collision")
    if account is not None:
        reward.loyalty_transaction = ledger_credit(
            account_id=account.pk,
            kind=LoyaltyTransaction.Kind.BONUS,
            points=spec.points,
            idempotency_key=f"reward:{reward.pk}",
            reason=f"Reward: {spec.name}"[:255],
            actor=actor,
            now=now,
        ).transaction
        reward.save(update_fields=["loyalty_transaction"])
    elif spec.kind == RewardKind.WALLET_CREDIT:
        reward.wallet_transaction = wallet_credit(
            customer=customer,
            brand=brand,
            amount=spec.amount,
            idempotency_key=f"reward:{reward.pk}",
            reason=f"Reward: {spec.name}",
            actor=actor,
        ).transaction
        reward.save(update_fields=["wallet_transaction"])
    NotificationService.send_notification(
        event=ISSUED_EVENT,
        payload={
            "reward_id": reward.pk,
            "name": reward.name,
            "kind": reward.kind,
            "code": reward.code,
            "valid_until": reward.valid_until,
            "points": reward.points,
            "amount": reward.amount,
        },
        customer=customer,
        brand=brand,
    )
    return reward, True
