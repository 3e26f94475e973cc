"""Placing an order: resolve products, price the basket, write the order in one transaction."""

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from brands.models import Brand, Store
from catalog.models import Product
from core.errors import ApplicationError, ConflictError
from core.money import to_minor
from customers.models import Customer
from customers.services import customer_link_brand
from experiments.services import exposures_record
from labels.selectors import product_label_ids
from orders.models import Order, OrderLine, OrderPromotion
from orders.selectors import (
    context_with_tier,
    context_with_vouchers,
    pricing_context_build,
    promotions_with_live_limits,
)
from orders.services.pricing import BasketLine, PricedBasket, allocations_text, price_basket
from promotions.selectors import brand_bundle
from promotions.services.usage import usage_reserve
from rewards.services import reward_use
from rules.engine import EventContext, firings_run
from rules.models import Event
from rules.selectors import rules_for_event
from vouchers.redemption import voucher_reserve
from wallets.services import wallet_pay_order

MAX_LINES = 500
MAX_QUANTITY = 10_000
# Pricing attempts of an order whose promotion uses were taken by concurrent orders meanwhile.
USAGE_ATTEMPTS = 3


@dataclass(frozen=True)
class LineRequest:
    quantity: int
    product_id: int | None = None
    sku: str | None = None


def _fingerprint(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def basket_lines_resolve(*, brand: Brand, lines: Sequence[LineRequest]) -> list[BasketLine]:
    """Turn requested lines into priced basket lines from the brand's active catalog (one query).

    Prices always come from the catalog, never from the client.
    """
    if not lines:
        raise ApplicationError(
            "An order needs at least one line.", code="empty_order", fields={"lines": ["Empty."]}
        )
    if len(lines) > MAX_LINES:
        raise ApplicationError(
            f"At most {MAX_LINES} lines.", code="too_many_lines", fields={"lines": ["Too many."]}
        )
    ids = {line.product_id for line in lines if line.product_id is not None}
    skus = {line.sku for line in lines if line.sku is not None}
    products = Product.objects.filter(brand=brand, is_active=True).filter(
        Q(id__in=ids) | Q(sku__in=skus)
    )
    by_id = {product.id: product for product in products}
    by_sku = {product.sku: product for product in by_id.values()}
    labels = product_label_ids(product_ids=list(by_id))

    errors: dict[str, list[str]] = {}
    resolved: list[BasketLine] = []
    for index, line in enumerate(lines):
        product = (
            by_id.get(line.product_id) if line.product_id is not None else by_sku.get(line.sku)
        )
        if product is None:
            errors[f"lines.{index}.product"] = ["Unknown or inactive product for this brand."]
            continue
        if not 1 <= line.quantity <= MAX_QUANTITY:
            errors[f"lines.{index}.quantity"] = [f"Must be between 1 and {MAX_QUANTITY}."]
            continue
        resolved.append(
            BasketLine(
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                category_id=product.category_id,
                quantity=line.quantity,
                unit_price=to_minor(product.price, brand.currency),
                label_ids=tuple(sorted(labels.get(product.id, ()))),
            )
        )
    if errors:
        raise ApplicationError("Some order lines are invalid.", code="invalid_lines", fields=errors)
    return resolved


def basket_price(
    *,
    brand: Brand,
    lines: Sequence[LineRequest],
    channel: str = Order.Channel.WEB,
    store: Store | None = None,
    customer: Customer | None = None,
    payment_method: str = "",
    codes: Sequence[str] = (),
    at: datetime | None = None,
    exhausted: Collection[int] = (),
    used_rewards: Collection[int] = (),
    used_vouchers: Collection[int] = (),
) -> PricedBasket:
    """Price a basket against the brand's live promotions, as an order placed now (or `at`)
    would be. Quotes and order placement both go through here. It writes nothing but, the first
    time a customer's basket is priced under a running experiment, their exposure
    (`experiments.services.exposures_record`: nothing when the brand runs none). The promotions
    in `exhausted` are priced as having no use left, the rewards in `used_rewards` and the
    voucher codes in `used_vouchers` as used."""
    if store is not None and store.brand_id != brand.id:
        raise ApplicationError(
            "The store belongs to another brand.",
            code="brand_mismatch",
            fields={"store": ["Wrong brand."]},
        )
    if channel not in Order.Channel.values:
        raise ApplicationError(
            "Unknown channel.", code="invalid_channel", fields={"channel": ["Unknown."]}
        )
    basket_lines = basket_lines_resolve(brand=brand, lines=lines)
    rules = rules_for_event(event=Event.ORDER_CREATED, brand_id=brand.pk)
    context = pricing_context_build(
        brand=brand,
        channel=channel,
        at=at or timezone.now(),
        store=store,
        customer=customer,
        payment_method=payment_method,
        codes=codes,
        rules=rules,
    )
    if used_rewards:
        context = replace(
            context,
            rewards=tuple(r for r in context.rewards if r.reward_id not in used_rewards),
        )
    promotions, bundle_hash = brand_bundle(brand_id=brand.id)
    promotions = promotions_with_live_limits(
        promotions=promotions, currency=brand.currency, exhausted=exhausted
    )
    context = context_with_tier(context=context, promotions=promotions)
    context = context_with_vouchers(context=context, promotions=promotions, used=used_vouchers)
    priced = price_basket(
        lines=basket_lines,
        context=context,
        promotions=promotions,
        bundle_hash=bundle_hash,
        rules=rules,
    )
    exposures_record(
        promotions=promotions,
        customer_id=context.customer_id,
        label_ids=context.customer_label_ids,
        tier=context.tier,
        at=context.at,
    )
    return priced


def order_place(
    *,
    brand: Brand,
    lines: Sequence[LineRequest],
    channel: str = Order.Channel.WEB,
    store: Store | None = None,
    customer: Customer | None = None,
    payment_method: str = "",
    codes: Sequence[str] = (),
    idempotency_key: str | None = None,
    wallet_amount: Decimal | None = None,
) -> tuple[Order, bool]:
    """Place an order, priced by the pipeline with the brand's live promotions.
    Returns `(order, created)`.

    With an `idempotency_key`, a replay of the same request returns the first order
    (`created` False); the same key with a different request is a conflict.

    Usage limits are exact: the order reserves a use (and the amount given) of each promotion
    it applies, in its transaction (`promotions.services.usage.usage_reserve`). When a
    concurrent order took the last use or the rest of a budget in between, the basket is priced
    again with the live limits (a smaller budget caps the discount) and the order retried; the
    last attempt prices the refused promotions as exhausted. The order never gets a discount
    the limits did not allow.

    Voucher codes are used exactly as often as they allow: each code the order applied has a use
    reserved by a conditional update in the order's transaction
    (`vouchers.redemption.voucher_reserve`); when a concurrent order took its last use first,
    the order is priced again without it. Paying makes the use final, cancelling gives it back.

    Reward codes are consumed exactly once: each reward the order applies is marked used by a
    conditional update in the order's transaction (`rewards.services.reward_use`); when a
    concurrent order used it first, the order is priced again without it. A replay of the
    idempotency key consumes nothing.

    With a `wallet_amount`, the customer's wallet at the brand pays up to that amount (never
    more than the order total), debited in the order's transaction; the order stores the split
    (`wallet_amount`, and `amount_due` left to pay by other means). Asking for more than the
    wallet holds is refused with `wallet_insufficient` and writes nothing.
    """
    codes = sorted({code.strip().upper() for code in codes if code.strip()})
    wallet_amount = _wallet_amount_checked(wallet_amount, customer)
    fingerprint = _fingerprint(
        store=store and store.id,
        channel=channel,
        customer=customer and customer.id,
        payment_method=payment_method,
        codes=codes,
        lines=[(line.product_id, line.sku, line.quantity) for line in lines],
        # Only when given, so that the fingerprints of orders without a wallet stay the same.
        **({"wallet_amount": str(wallet_amount)} if wallet_amount else {}),
    )
    if idempotency_key:
        existing = _replayed(brand, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    refused: set[int] = set()
    used_rewards: set[int] = set()
    used_vouchers: set[int] = set()
    for attempt in range(1, USAGE_ATTEMPTS + 1):
        priced = basket_price(
            brand=brand,
            lines=lines,
            channel=channel,
            store=store,
            customer=customer,
            payment_method=payment_method,
            codes=codes,
            exhausted=refused if attempt == USAGE_ATTEMPTS else (),
            used_rewards=used_rewards,
            used_vouchers=used_vouchers,
        )
        try:
            with transaction.atomic():
                order = _order_write(
                    brand,
                    store,
                    channel,
                    customer,
                    payment_method,
                    codes,
                    priced,
                    idempotency_key,
                    fingerprint,
                    wallet_amount,
                )
                refused_now = usage_reserve(order=order, applied=_usage_amounts(priced))
                if refused_now:
                    raise _UsageRefused(refused_now)
                taken = _rewards_use(order, priced)
                if taken:
                    raise _UsageRefused(set(), reward_ids=taken)
                taken = _vouchers_reserve(order, priced)
                if taken:
                    raise _UsageRefused(set(), voucher_ids=taken)
                if wallet_amount:
                    wallet_pay_order(
                        order=order, requested=wallet_amount, amount=order.wallet_amount
                    )
        except _UsageRefused as error:
            refused |= error.promotion_ids
            used_rewards |= error.reward_ids
            used_vouchers |= error.voucher_ids
            continue
        except IntegrityError:
            # A concurrent request with the same idempotency key won the race.
            existing = _replayed(brand, idempotency_key, fingerprint) if idempotency_key else None
            if existing is None:
                raise
            return existing, False
        return order, True
    raise ConflictError(
        "Promotion limits changed while the order was placed; please try again.",
        code="promotion_usage_contended",
    )


def _wallet_amount_checked(amount: Decimal | None, customer: Customer | None) -> Decimal | None:
    if not amount:
        return None
    amount = Decimal(amount)
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ApplicationError(
            "The wallet amount must be positive, in cents.",
            code="invalid_wallet_amount",
            fields={"wallet_amount": ["Positive, in cents."]},
        )
    if customer is None:
        raise ApplicationError(
            "Only a customer's order can be paid from a wallet.",
            code="wallet_requires_customer",
            fields={"wallet_amount": ["The order has no customer."]},
        )
    return amount


class _UsageRefused(Exception):
    """Rolls back an order whose promotion uses could not all be reserved, or whose reward
    codes a concurrent order used first."""

    def __init__(
        self,
        promotion_ids: set[int],
        reward_ids: frozenset[int] = frozenset(),
        voucher_ids: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(sorted(promotion_ids), sorted(reward_ids), sorted(voucher_ids))
        self.promotion_ids = promotion_ids
        self.reward_ids = reward_ids
        self.voucher_ids = voucher_ids


def _rewards_use(order: Order, priced: PricedBasket) -> frozenset[int]:
    """Mark each reward the order applied as used by it (one conditional update each); the
    ids of those a concurrent order used first."""
    taken = set()
    for result in priced.applied_rewards:
        if not reward_use(
            reward_id=result["reward_id"],
            customer_id=order.customer_id,
            order_id=order.pk,
            discount=priced.money(result["amount"]),
            now=order.created_at,
        ):
            taken.add(result["reward_id"])
    return frozenset(taken)


def _vouchers_reserve(order: Order, priced: PricedBasket) -> frozenset[int]:
    """Hold a use of each voucher code the order applied (one conditional update and one
    redemption row each); the ids of those a concurrent order or sale used up first."""
    taken = set()
    for result in priced.applied_vouchers:
        if not voucher_reserve(
            code_id=result["code_id"],
            order_id=order.pk,
            customer_id=order.customer_id,
            store_id=order.store_id,
            channel=order.channel,
            now=order.created_at,
        ):
            taken.add(result["code_id"])
    return frozenset(taken)


def _usage_amounts(priced: PricedBasket) -> dict[int, Decimal]:
    """What the order gives of each promotion it applied (a discount or cashback)."""
    amounts: dict[int, int] = {}
    for entry in (*priced.result.get("applied", ()), *priced.result.get("cashback", ())):
        amounts[entry["promotion_id"]] = amounts.get(entry["promotion_id"], 0) + entry["amount"]
    return {pk: priced.money(minor) for pk, minor in amounts.items()}


def _order_write(
    brand, store, channel, customer, payment_method, codes, priced, key, fingerprint, wallet_amount
) -> Order:
    money = priced.money
    total = money(priced.total)
    order = Order.objects.create(
        brand=brand,
        store=store,
        channel=channel,
        customer=customer,
        payment_method=payment_method,
        codes=codes,
        currency=brand.currency,
        subtotal=money(priced.subtotal),
        discount_total=money(priced.discount_total),
        total=total,
        wallet_amount=min(wallet_amount, total) if wallet_amount else Decimal("0.00"),
        cashback_total=money(priced.cashback_total),
        discount_percentage=priced.discount_percentage,
        discount_amount=money(priced.rule_discount_total),
        discount_description=priced.discount_description[:255],
        rule_discounts=priced.rule_discounts_wire(),
        reward_codes=priced.rewards_wire(),
        vouchers=priced.voucher_results,
        engine_version=priced.result.get("engine_version") or "",
        bundle_hash=priced.result.get("bundle_hash") or "",
        idempotency_key=key or None,
        request_fingerprint=fingerprint,
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product_id=p.line.product_id,
            sku=p.line.sku,
            name=p.line.name,
            quantity=p.line.quantity,
            unit_price=money(p.line.unit_price),
            line_discount=money(p.discount),
            allocations=allocations_text(p.allocations, priced.text),
        )
        for p in priced.lines
    )
    OrderPromotion.objects.bulk_create(_applied_rows(order, priced))
    if customer is not None:
        customer_link_brand(customer=customer, brand=brand)
    _order_created_rules_run(order, priced)
    return order


def _order_created_rules_run(order: Order, priced: PricedBasket) -> None:
    """Run the other actions of the order.created rules that priced the order, and log them,
    inside the order's transaction (a failing action is logged and does not undo the order)."""
    match = priced.rule_match
    if match is None or not (match.rules or match.broken):
        return
    given: dict[int, list[str]] = {}
    for discount in priced.rule_discounts:
        given.setdefault(discount.rule_id, []).append(priced.text(discount.amount))
    firings_run(
        match,
        EventContext(
            event=Event.ORDER_CREATED,
            event_id=f"order:{order.pk}",
            brand_id=order.brand_id,
            at=order.created_at,
            object_type="order",
            object_id=order.pk,
            customer=order.customer,
            order=order,
            applied_discounts=given,
        ),
    )


def _applied_rows(order: Order, priced: PricedBasket) -> list[OrderPromotion]:
    result = priced.result
    rows = []
    for kind, entries in (
        (OrderPromotion.Kind.DISCOUNT, result.get("applied", ())),
        (OrderPromotion.Kind.CASHBACK, result.get("cashback", ())),
    ):
        for entry in entries:
            rows.append(
                OrderPromotion(
                    order=order,
                    promotion_id=entry["promotion_id"],
                    promotion_version=priced.promotion_versions.get(entry["promotion_id"], 0),
                    name=entry.get("name", ""),
                    type=entry.get("type", ""),
                    kind=kind,
                    phase=entry.get("phase", ""),
                    amount=priced.money(entry["amount"]),
                    applications=entry.get("applications", 1),
                )
            )
    return rows


def _replayed(brand: Brand, idempotency_key: str, fingerprint: str) -> Order | None:
    existing = Order.objects.filter(brand=brand, idempotency_key=idempotency_key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise ConflictError(
            "This idempotency key was already used for a different order.",
            code="idempotency_key_reused",
            fields={"idempotency_key": ["Used for another request."]},
        )
    return existing
