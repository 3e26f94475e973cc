"""Reward templates and issued rewards as staff and rules handle them: a template is saved with
the fields its kind needs (and only those), issued to a customer of its brand by staff or by a
rule, and an active code is cancelled. Issuing itself is `rewards.services.reward_issue`.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from brands.models import Brand
from catalog.models import Product
from core.errors import ApplicationError, ConflictError, NotFoundError
from customers.models import Customer, CustomerBrand
from rewards.models import CustomerReward, RewardKind, RewardTemplate
from rewards.services import reward_issue, reward_spec

TEMPLATE_FIELDS = (
    "name",
    "description",
    "kind",
    "amount",
    "percentage",
    "product",
    "points",
    "minimum_order",
    "valid_days",
    "trigger",
    "is_active",
)
# What each kind needs; the other value fields must be empty.
KIND_FIELDS: dict[str, str] = {
    RewardKind.DISCOUNT_AMOUNT: "amount",
    RewardKind.DISCOUNT_PERCENTAGE: "percentage",
    RewardKind.FREE_PRODUCT: "product",
    RewardKind.POINTS: "points",
    RewardKind.WALLET_CREDIT: "amount",
}
VALUE_FIELDS = ("amount", "percentage", "product", "points")
MAX_AMOUNT = Decimal("100000.00")
MAX_POINTS = 1_000_000
NEEDS = {
    "amount": "An amount above zero is needed for this kind.",
    "percentage": "A percentage above 0 and at most 100 is needed for this kind.",
    "product": "Choose the product this reward makes free.",
    "points": "A number of points above zero is needed for this kind.",
}
TOO_MUCH = {
    "amount": f"The amount is at most {MAX_AMOUNT}.",
    "points": f"The points are at most {MAX_POINTS}.",
}


def _invalid(message: str, fields: dict[str, list[str]] | None = None) -> ApplicationError:
    return ApplicationError(message, code="invalid_reward_template", fields=fields or {})


def reward_template_errors(*, brand: Brand | None, values: dict[str, Any]) -> dict[str, str]:
    """What is wrong with a template's values, field by field, in plain sentences (empty when
    nothing is). `values` holds the kind, amount, percentage, product (a `Product` or None),
    points and minimum order."""
    kind = values.get("kind")
    if kind not in RewardKind.values:
        return {"kind": "Choose what the reward gives."}
    errors: dict[str, str] = {}
    needed = KIND_FIELDS[kind]
    label = RewardKind(kind).label.lower()
    for name in VALUE_FIELDS:
        value = values.get(name)
        if name != needed:
            if value not in (None, ""):
                errors[name] = f"Leave this empty: {label} does not use it."
            continue
        if name in ("amount", "points") and (value is None or value <= 0):
            errors[name] = NEEDS[name]
        elif name in ("amount", "points") and value > (
            MAX_AMOUNT if name == "amount" else MAX_POINTS
        ):
            errors[name] = TOO_MUCH[name]
        elif name == "percentage" and (value is None or not Decimal(0) < value <= 100):
            errors[name] = NEEDS[name]
        elif name == "product":
            if value is None:
                errors[name] = NEEDS[name]
            elif brand is not None and value.brand_id != brand.pk:
                errors[name] = "Choose a product of the reward's brand."
    minimum = values.get("minimum_order")
    if minimum is not None and kind not in (
        RewardKind.DISCOUNT_AMOUNT,
        RewardKind.DISCOUNT_PERCENTAGE,
        RewardKind.FREE_PRODUCT,
    ):
        errors["minimum_order"] = f"Leave this empty: {label} is not a code used on an order."
    elif minimum is not None and minimum < 0:
        errors["minimum_order"] = "The minimum order cannot be below zero."
    return errors


@transaction.atomic
def reward_template_save(
    *, template: RewardTemplate | None = None, brand: Brand | None = None, data: dict
) -> RewardTemplate:
    """Create a template of `brand` (when `template` is None) or change `template` with `data`
    (its fields; `product` an id or a `Product`). The kind's fields are checked together,
    whatever part of them `data` changes."""
    if template is None:
        if brand is None:
            raise _invalid("Name the reward's brand.", {"brand": ["Required."]})
        template = RewardTemplate(brand=brand)
    else:
        template = RewardTemplate.objects.select_for_update().get(pk=template.pk)
    data = dict(data)
    if (
        "product" in data
        and data["product"] is not None
        and not isinstance(data["product"], Product)
    ):
        data["product"] = Product.objects.filter(pk=data["product"]).first() or _no_product()
    if "kind" in data and data["kind"] != template.kind:
        # A new kind starts from empty value fields: the ones it needs come in `data`.
        for name in VALUE_FIELDS:
            data.setdefault(name, None)
    for name in TEMPLATE_FIELDS:
        if name in data:
            setattr(template, name, data[name])
    values = {name: getattr(template, name) for name in ("kind", "amount", "percentage")}
    values.update(
        product=template.product if template.product_id else None,
        points=template.points,
        minimum_order=template.minimum_order,
    )
    errors = reward_template_errors(brand=template.brand, values=values)
    if errors:
        first = next(iter(errors.values()))
        raise _invalid(first, {name: [message] for name, message in errors.items()})
    duplicate = RewardTemplate.objects.filter(brand=template.brand, name=template.name)
    if template.pk:
        duplicate = duplicate.exclude(pk=template.pk)
    if duplicate.exists():
        message = "The brand already has a reward with this name."
        raise _invalid(message, {"name": [message]})
    template.full_clean(exclude=["brand", "product"], validate_constraints=False)
    template.save()
    return template


def _no_product():
    message = "No such product in the reward's brand."
    raise _invalid(message, {"product": [message]})


def reward_issue_template(
    *,
    template: RewardTemplate,
    customer: Customer,
    idempotency_key: str,
    source: str,
    reason: str = "",
    actor=None,
) -> tuple[CustomerReward, bool]:
    """Issue an active template to a customer of its brand (a replay of the key returns the
    first reward). A customer unknown to the brand is `customer_not_found`, as a missing one."""
    replay = CustomerReward.objects.filter(idempotency_key=idempotency_key).first()
    if replay is not None:
        if replay.template_id != template.pk or replay.customer_id != customer.pk:
            raise ConflictError(
                "This idempotency key was used for another reward.",
                code="idempotency_key_reused",
            )
        return replay, False
    if not template.is_active:
        raise ConflictError(
            f"The reward {template.name!r} is not active.", code="reward_template_inactive"
        )
    if not CustomerBrand.objects.filter(customer=customer, brand_id=template.brand_id).exists():
        raise NotFoundError("No such customer.", code="customer_not_found")
    return reward_issue(
        customer=customer,
        brand=template.brand,
        spec=reward_spec(template),
        template=template,
        idempotency_key=idempotency_key,
        source=source,
        reason=reason,
        actor=actor,
    )


def reward_issue_by_rule(
    *, template_id: int, brand_id: int | None, customer: Customer, rule_id: int, event_id: str
) -> tuple[CustomerReward, bool]:
    """The rule action `ISSUE_REWARD`: the template must still exist in the event's brand and
    be active; once per rule and event."""
    template = (
        RewardTemplate.objects.select_related("brand")
        .filter(pk=template_id, brand_id=brand_id)
        .first()
    )
    if template is None:
        raise NotFoundError(
            "The reward no longer exists in this brand.", code="reward_template_missing"
        )
    return reward_issue_template(
        template=template,
        customer=customer,
        idempotency_key=f"rule:{rule_id}:{event_id}",
        source=CustomerReward.Source.RULE,
        reason=f"Rule {rule_id}",
    )


@transaction.atomic
def reward_cancel(*, reward_id: int, brand_ids: list[int] | None, actor=None) -> CustomerReward:
    """Cancel an active code of one of `brand_ids` (None: any brand). Cancelling it again
    changes nothing; a code already used or expired is `reward_not_active`. The change is a
    conditional update, so an order using the code at the same moment either uses it first
    (and the cancel is refused) or finds it cancelled."""
    rewards = CustomerReward.objects.all()
    if brand_ids is not None:
        rewards = rewards.filter(brand_id__in=brand_ids)
    reward = rewards.filter(pk=reward_id).first()
    if reward is None:
        raise NotFoundError("No such reward.", code="reward_not_found")
    if reward.status == CustomerReward.Status.CANCELLED:
        return reward
    changed = CustomerReward.objects.filter(
        pk=reward.pk, status=CustomerReward.Status.ACTIVE
    ).update(status=CustomerReward.Status.CANCELLED, updated_at=timezone.now())
    reward.refresh_from_db()
    if not changed and reward.status != CustomerReward.Status.CANCELLED:
        raise ConflictError(
            f"Only a reward ready to use can be cancelled; this one is {reward.status}.",
            code="reward_not_active",
        )
    return reward
