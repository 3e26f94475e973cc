"""Services for a customer's rights over their personal data: export it, erase it.

`customer_export` gathers everything held about a customer into one JSON-able document;
`customer_erase` removes or pseudonymises their personal data while keeping what the business
must keep consistent (orders with their totals, the loyalty ledger and balances, usage counts).
Both write a `PersonalDataAudit` row naming who did it. Staff act within their brands: the
export holds only their brands' records, and erasing a customer that other brands also know
is for a superuser (or the command line).
"""

import uuid
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from brands.selectors import brand_ids_for_user
from core.errors import PermissionDeniedError
from customers.models import Customer, PersonalDataAudit
from customers.selectors import customer_known_beyond
from labels.models import CustomerLabel
from loyalty_management.models import CustomerBadge, LoyaltyAccount, LoyaltyTransaction
from notifications.models import DeliveryAttempt, InboxMessage, Notification, NotificationDelivery
from orders.models import Order
from promotions.models import PosTicket, PromotionCustomerUsage
from rules.models import RuleFiring

EXPORT_FORMAT = "customer-export/1"
ERASED_NOTICE = "The customer's personal data was erased."


def _in_brands(field: str, brand_ids: list[int] | None, *, include_global: bool = False) -> Q:
    if brand_ids is None:
        return Q()
    q = Q(**{f"{field}__in": brand_ids})
    return q | Q(**{f"{field}__isnull": True}) if include_global else q


def _audit(*, customer: Customer, action: str, actor, via: str) -> PersonalDataAudit:
    return PersonalDataAudit.objects.create(
        customer=customer,
        customer_number=customer.pk,
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=getattr(actor, "username", "") or "",
        via=via,
    )


def _money(value) -> str:
    return str(value)


def _when(value) -> str | None:
    return value.isoformat() if value is not None else None


@transaction.atomic
def customer_export(
    *, customer: Customer, actor, via: str, any_brand: bool = False
) -> dict[str, Any]:
    """Everything held about `customer`, as one JSON-able document, and an audit row.

    `actor` is the staff user asking; their brands bound what the document holds (a
    superuser's export, or one with `any_brand` as the command line runs it, has every brand's
    records). `actor` may be None on the command line.
    """
    brand_ids = None if any_brand or actor is None else brand_ids_for_user(actor)
    orders = (
        Order.objects.filter(_in_brands("brand_id", brand_ids), customer=customer)
        .select_related("brand", "store")
        .prefetch_related("lines")
        .order_by("created_at", "id")
    )
    accounts = (
        LoyaltyAccount.objects.filter(_in_brands("program__brand_id", brand_ids), customer=customer)
        .select_related("program__brand", "tier")
        .prefetch_related(
            Prefetch(
                "transactions",
                queryset=LoyaltyTransaction.objects.order_by("created_at", "id"),
            )
        )
        .order_by("id")
    )
    notifications = (
        Notification.objects.filter(
            _in_brands("brand_id", brand_ids, include_global=True), customer=customer
        )
        .select_related("brand", "inbox_message")
        .prefetch_related("deliveries")
        .order_by("created_at", "id")
    )
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "customer": {
            "id": customer.pk,
            "email": customer.email,
            "phone": customer.phone,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "birth_date": _when(customer.birth_date),
            "external_id": customer.external_id,
            "has_login": customer.user_id is not None,
            "created_at": _when(customer.created_at),
            "updated_at": _when(customer.updated_at),
            "erased_at": _when(customer.erased_at),
        },
        "brands": [
            {"brand": link.brand.slug, "first_seen_at": _when(link.first_seen_at)}
            for link in customer.brand_links.filter(_in_brands("brand_id", brand_ids))
            .select_related("brand")
            .order_by("first_seen_at", "id")
        ],
        "labels": [
            {
                "label": assignment.label.name,
                "brand": assignment.label.brand.slug if assignment.label.brand else None,
                "assigned_at": _when(assignment.assigned_at),
            }
            for assignment in CustomerLabel.objects.filter(
                _in_brands("label__brand_id", brand_ids, include_global=True), customer=customer
            )
            .select_related("label__brand")
            .order_by("assigned_at", "id")
        ],
        "orders": [
            {
                "id": order.pk,
                "brand": order.brand.slug,
                "store": order.store.code if order.store else None,
                "channel": order.channel,
                "status": order.status,
                "payment_status": order.payment_status,
                "currency": order.currency,
                "subtotal": _money(order.subtotal),
                "discount_total": _money(order.discount_total),
                "total": _money(order.total),
                "refunded_amount": _money(order.refunded_amount),
                "codes": order.codes,
                "created_at": _when(order.created_at),
                "paid_at": _when(order.paid_at),
                "lines": [
                    {
                        "sku": line.sku,
                        "name": line.name,
                        "quantity": line.quantity,
                        "unit_price": _money(line.unit_price),
                        "line_discount": _money(line.line_discount),
                    }
                    for line in order.lines.all()
                ],
            }
            for order in orders
        ],
        "pos_tickets": [
            {
                "ticket_id": ticket.ticket_id,
                "local_time": _when(ticket.local_time),
                "currency": ticket.currency,
                "total": _money(ticket.total),
            }
            for ticket in PosTicket.objects.filter(
                _in_brands("device__store__brand_id", brand_ids), customer=customer
            ).order_by("local_time", "id")
        ],
        "loyalty": [
            {
                "brand": account.program.brand.slug,
                "program": account.program.name,
                "available_points": account.available_points,
                "pending_points": account.pending_points,
                "lifetime_points": account.lifetime_points,
                "tier": account.tier.name if account.tier else None,
                "transactions": [
                    {
                        "kind": entry.kind,
                        "points": entry.points,
                        "order": entry.order_id,
                        "reason": entry.reason,
                        "created_at": _when(entry.created_at),
                    }
                    for entry in account.transactions.all()
                ],
            }
            for account in accounts
        ],
        "badges": [
            {
                "brand": held.badge.brand.slug,
                "badge": held.badge.name,
                "awarded_at": _when(held.awarded_at),
                "source": held.source,
                "order": held.order_id,
                "note": held.note,
            }
            for held in CustomerBadge.objects.filter(
                _in_brands("badge__brand_id", brand_ids), customer=customer
            )
            .select_related("badge__brand")
            .order_by("awarded_at", "id")
        ],
        "promotion_uses": [
            {"promotion": usage.promotion.name, "uses": usage.uses}
            for usage in PromotionCustomerUsage.objects.filter(
                _in_brands("promotion__brand_id", brand_ids), customer=customer
            )
            .select_related("promotion")
            .order_by("id")
        ],
        "notifications": [
            {
                "event": notification.event,
                "brand": notification.brand.slug if notification.brand else None,
                "created_at": _when(notification.created_at),
                "payload": notification.payload,
                "inbox": _inbox(notification),
                "deliveries": [
                    {
                        "channel": delivery.channel,
                        "recipient": delivery.recipient,
                        "status": delivery.status,
                        "sent_at": _when(delivery.sent_at),
                    }
                    for delivery in notification.deliveries.all()
                    if delivery.channel != "webhook"
                ],
            }
            for notification in notifications
        ],
        "rule_firings": [
            {
                "rule": firing.rule_name,
                "event": firing.event,
                "outcome": firing.outcome,
                "actions": firing.actions,
                "created_at": _when(firing.created_at),
            }
            for firing in RuleFiring.objects.filter(
                _in_brands("brand_id", brand_ids, include_global=True), customer=customer
            ).order_by("created_at", "id")
        ],
    }
    _audit(customer=customer, action=PersonalDataAudit.Action.EXPORT, actor=actor, via=via)
    return document


def _inbox(notification: Notification) -> dict | None:
    try:
        message = notification.inbox_message
    except InboxMessage.DoesNotExist:
        return None
    return {"subject": message.subject, "body": message.body, "read_at": _when(message.read_at)}


def customer_may_be_erased_by(*, customer: Customer, actor) -> bool:
    """Staff may erase only a customer that no brand outside theirs knows."""
    return not customer_known_beyond(customer=customer, user=actor)


@transaction.atomic
def customer_erase(*, customer: Customer, actor, via: str, any_brand: bool = False) -> bool:
    """Remove or pseudonymise the customer's personal data; keep orders, points and counts.

    The profile loses its name, email, phone, birth date and external id; the storefront login
    is deactivated, renamed and loses its password and tokens; notification payloads, inbox
    messages and delivery addresses and texts are removed, and deliveries not sent yet are
    skipped; staff notes on badges are cleared. Orders, their lines and totals, the loyalty
    accounts and ledger, badges, labels and promotion usage stay, attached to the pseudonymous
    customer. Atomic; idempotent: a second
    call changes nothing and returns False. An audit row names the actor. `any_brand` (the
    command line) lifts the brand restriction of the actor.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if not any_brand and not customer_may_be_erased_by(customer=customer, actor=actor):
        raise PermissionDeniedError(
            "Other brands also know this customer; an administrator of every brand must erase "
            "their data.",
            code="customer_shared_with_other_brands",
        )
    if customer.erased_at is not None:
        return False

    user_id = customer.user_id
    customer.email = None
    customer.phone = ""
    customer.first_name = ""
    customer.last_name = ""
    customer.birth_date = None
    customer.external_id = None
    customer.erased_at = timezone.now()
    customer.save()

    if user_id is not None:
        _login_erase(user_id=user_id, customer_id=customer.pk)

    notifications = Notification.objects.filter(customer=customer)
    InboxMessage.objects.filter(customer=customer).delete()
    deliveries = NotificationDelivery.objects.filter(notification__in=notifications)
    DeliveryAttempt.objects.filter(delivery__in=deliveries).update(error="", response_excerpt="")
    deliveries.filter(
        status__in=[NotificationDelivery.Status.PENDING, NotificationDelivery.Status.SENDING]
    ).update(status=NotificationDelivery.Status.SKIPPED, next_retry_at=None)
    deliveries.update(recipient="", subject="", body="", last_error=ERASED_NOTICE)
    notifications.update(payload={})
    CustomerBadge.objects.filter(customer=customer).exclude(note="").update(note="")

    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk)
    ).update(object_repr=str(customer))
    _audit(customer=customer, action=PersonalDataAudit.Action.ERASE, actor=actor, via=via)
    return True


def _login_erase(*, user_id: int, customer_id: int) -> None:
    user_model = get_user_model()
    user = user_model.objects.select_for_update().get(pk=user_id)
    user.username = f"erased-{customer_id}-{uuid.uuid4().hex[:12]}"
    user.email = ""
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    for relation in user_model._meta.related_objects:
        # API tokens of any kind the project uses (one-to-one or many) go with the login.
        if relation.related_model._meta.app_label in {"authtoken", "knox"}:
            relation.related_model.objects.filter(**{relation.field.name: user}).delete()
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(user_model), object_id=str(user_id)
    ).update(object_repr=user.username)
