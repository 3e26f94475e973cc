"""Issuing rewards: the one way a `CustomerReward` is made.

`reward_issue` writes the reward under its `idempotency_key` (a replay returns the first reward
and changes nothing; two concurrent issues with one key make one reward: the unique key decides
and the loser reads the winner's row). Points are credited on the ledger (`bonus`) and wallet
credit to the brand's wallet in the same transaction, both keyed by the reward, so the reward
and what it gave commit together. A discount or free product gets a random single-use code.

A code is used by one order exactly once: `reward_use` is a conditional update (`active` →
`used`) inside the order's transaction, so of concurrent orders only one gets it. Cancelling an
order before it is paid gives its codes back (`rewards_release_for_order`); a refund after
payment does not.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from brands.models import Brand
from core.errors import ConflictError
from customers.models import Customer
from loyalty_management.models import LoyaltyTransaction
from loyalty_management.selectors import program_for_brand
from loyalty_management.services.ledger import account_get_or_create, ledger_credit
from notifications.services import NotificationService
from rewards.models import CODE_KINDS, CustomerReward, RewardKind, RewardTemplate
from rewards.selectors import CODE_ALPHABET, CODE_LENGTH, CODE_PREFIX
from wallets.services import wallet_credit

ISSUED_EVENT = "loyalty.reward.issued"


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


def reward_use(
    *, reward_id: int, customer_id: int, order_id: int, discount: Decimal, now: datetime
) -> bool:
    """Mark the customer's active, unexpired reward used by the order, with what it took off,
    by a conditional update: True when this call used it, False when it was no longer active
    (a concurrent order used it first). Runs inside the order's transaction."""
    return bool(
        CustomerReward.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=now),
            pk=reward_id,
            customer_id=customer_id,
            status=CustomerReward.Status.ACTIVE,
        ).update(
            status=CustomerReward.Status.USED,
            order_id=order_id,
            used_at=now,
            discount=discount,
            updated_at=now,
        )
    )


def rewards_release_for_order(*, order_id: int, now: datetime | None = None) -> int:
    """Give back the codes an order used, when it is cancelled before payment: a code still
    within its validity is active again; one past it is expired. Returns how many came back
    active. Running it twice changes nothing (only `used` rewards of the order move)."""
    now = now or timezone.now()
    used = CustomerReward.objects.filter(order_id=order_id, status=CustomerReward.Status.USED)
    cleared = {"order": None, "used_at": None, "discount": None, "updated_at": now}
    active = used.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now)).update(
        status=CustomerReward.Status.ACTIVE, **cleared
    )
    used.update(status=CustomerReward.Status.EXPIRED, **cleared)
    return active
