"""Reads for orders: what the pricing pipeline needs to know about a customer."""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from brands.models import Brand, Store
from core.money import to_minor
from customers.models import Customer
from labels.models import CustomerLabel
from loyalty_management.selectors import customer_tier_name
from orders.models import Order
from orders.services.pricing import PricingContext, RewardOffer, VoucherOffer
from promotions.selectors import customer_promotion_uses, promotion_usage_remaining
from promotions.services.calculator import normalise_code
from rewards.selectors import customer_usable_rewards, reward_code_shaped
from rules.selectors import CompiledRule, customer_facts
from vouchers.selectors import entered_code, usable_vouchers

PS = Order.PaymentStatus


def customer_promotion_usage(*, customer_id: int) -> dict[int, int]:
    """How many uses of each promotion the customer holds: orders placed and not cancelled,
    and offline sales (the usage counters, one query)."""
    return customer_promotion_uses(customer_id=customer_id)


def pricing_context_build(
    *,
    brand: Brand,
    channel: str,
    at: datetime,
    store: Store | None = None,
    customer: Customer | None = None,
    payment_method: str = "",
    codes: Iterable[str] = (),
    rules: Sequence[CompiledRule] = (),
) -> PricingContext:
    """The pricing context of a basket: three queries when there is a customer, none without;
    with `rules` testing the customer's order count, spend or tier, two more (whatever the
    number of rules and conditions); with codes of the reward form and a customer, one more
    (the customer's usable rewards among them)."""
    label_ids: tuple[int, ...] = ()
    usage: dict[int, int] = {}
    is_new = False
    if customer is not None:
        label_ids = tuple(
            CustomerLabel.objects.filter(customer=customer).values_list("label_id", flat=True)
        )
        usage = customer_promotion_usage(customer_id=customer.pk)
        is_new = not Order.objects.filter(
            customer=customer, payment_status__in=(PS.PAID, PS.PARTIALLY_REFUNDED, PS.REFUNDED)
        ).exists()
    time_zone = store.time_zone if store is not None else brand.time_zone
    facts = None
    if customer is not None and rules:
        facts = customer_facts(
            customer=customer,
            brand_id=brand.pk,
            at=at,
            time_zone=ZoneInfo(time_zone),
            label_ids=label_ids,
            with_stats=any(rule.needs_customer_stats for rule in rules),
        )
    codes = tuple(codes)
    reward_codes = tuple(
        dict.fromkeys(c for c in map(normalise_code, codes) if reward_code_shaped(c))
    )
    voucher_codes = tuple(
        dict.fromkeys(c for c in map(entered_code, codes) if c and not reward_code_shaped(c))
    )
    rewards: tuple[RewardOffer, ...] = ()
    if customer is not None and reward_codes:
        rewards = tuple(
            _reward_offer(row, brand.currency)
            for row in customer_usable_rewards(
                customer_id=customer.pk, brand_id=brand.pk, codes=reward_codes, at=at
            )
        )
    return PricingContext(
        brand_id=brand.pk,
        currency=brand.currency,
        channel=channel,
        at=at,
        time_zone=time_zone,
        store_id=store and store.pk,
        store_code=store.code if store is not None else "",
        customer_facts=facts,
        customer_id=customer and customer.pk,
        customer_label_ids=label_ids,
        is_new_customer=is_new,
        payment_method=payment_method,
        codes=codes,
        customer_usage=usage,
        rewards=rewards,
        reward_codes=reward_codes,
        voucher_codes=voucher_codes,
    )


def _needs_tier(promotion: dict) -> bool:
    audience = (promotion.get("experiment") or {}).get("audience") or {}
    return bool((promotion.get("targeting") or {}).get("tiers") or audience.get("tiers"))


def context_with_tier(*, context: PricingContext, promotions: Sequence[dict]) -> PricingContext:
    """The context with the customer's loyalty tier, when a promotion of `promotions` targets
    tiers or runs an experiment for a tier (one query). Nothing otherwise, and nothing for an
    anonymous basket."""
    if context.customer_id is None or context.tier is not None:
        return context
    if not any(_needs_tier(promotion) for promotion in promotions):
        return context
    tier = customer_tier_name(customer_id=context.customer_id, brand_id=context.brand_id)
    return replace(context, tier=tier)


def context_with_vouchers(
    *, context: PricingContext, promotions: Sequence[dict], used: Collection[int] = ()
) -> PricingContext:
    """The context with the usable vouchers among its entered codes, for the live voucher
    promotions of `promotions`: one query, only when a code was entered and the brand has a
    voucher promotion live. The codes in `used` (taken by a concurrent order) are left out."""
    voucher_promotions = [p["id"] for p in promotions if p.get("voucher") is not None]
    if not context.voucher_codes or not voucher_promotions:
        return context
    rows = usable_vouchers(
        brand_id=context.brand_id,
        codes=context.voucher_codes,
        customer_id=context.customer_id,
        at=context.at,
        promotion_ids=voucher_promotions,
    )
    return replace(
        context,
        vouchers=tuple(VoucherOffer(**row) for row in rows if row["code_id"] not in used),
    )


def _reward_offer(row: dict, currency: str) -> RewardOffer:
    def minor(amount):
        return None if amount is None else to_minor(amount, currency)

    return RewardOffer(
        reward_id=row["pk"],
        code=row["code"],
        name=row["name"],
        kind=row["kind"],
        amount=minor(row["amount"]),
        basis_points=None if row["percentage"] is None else int(row["percentage"] * 100),
        product_id=row["product_id"],
        minimum_order=minor(row["minimum_order"]),
    )


def promotion_remaining(
    *, promotion_ids: Iterable[int], currency: str
) -> dict[int, tuple[int | None, int | None]]:
    """`(remaining uses, remaining budget in minor units)` per promotion with such limits,
    from the usage counters the ledger moves (`promotions.services.usage`; one query)."""
    return promotion_usage_remaining(promotion_ids=promotion_ids, currency=currency)


def promotions_with_live_limits(
    *, promotions: list[dict], currency: str, exhausted: Collection[int] = ()
) -> list[dict]:
    """The compiled promotions with their remaining uses and budget as of now (one query, only
    when some promotion has such a limit). The promotions in `exhausted` get none left (an
    order lost their last use to a concurrent one)."""
    limited = [
        p["id"]
        for p in promotions
        if (p.get("limits") or {}).get("remaining_uses") is not None
        or (p.get("limits") or {}).get("remaining_budget") is not None
    ]
    if not limited and not exhausted:
        return list(promotions)
    remaining = promotion_remaining(promotion_ids=limited, currency=currency) if limited else {}
    remaining.update((pk, (0, 0)) for pk in exhausted)
    live = []
    for promotion in promotions:
        if promotion["id"] in remaining:
            uses, budget = remaining[promotion["id"]]
            limits = {
                **(promotion.get("limits") or {}),
                "remaining_uses": uses,
                "remaining_budget": budget,
            }
            promotion = {**promotion, "limits": limits}
        live.append(promotion)
    return live
