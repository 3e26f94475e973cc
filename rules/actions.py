"""What each rule action does (DISCOUNT is applied by the pricing pipeline, see rules.engine).

Each runner gets the action's clean parameters, the rule and the event context, does its work
through the owning app's service, and returns a small JSON-able record of what it did. A runner
raises `ApplicationError` when it cannot act; the engine logs it and goes on.
"""

from collections.abc import Callable

from core.errors import ApplicationError


def _customer(ctx):
    if ctx.customer is None:
        raise ApplicationError("The event has no customer.", code="rule_action_needs_customer")
    return ctx.customer


def _label(params: dict):
    from labels.models import Label

    label = Label.objects.filter(pk=params["label_id"]).first()
    if label is None:
        raise ApplicationError(f"Label {params['label']!r} no longer exists.", code="label_missing")
    return label


def add_label(params: dict, rule, ctx) -> dict:
    from labels.services import label_assign_customer

    _, created = label_assign_customer(
        label=_label(params), customer=_customer(ctx), event_depth=ctx.depth + 1
    )
    return {"label": params["label"], "changed": created}


def remove_label(params: dict, rule, ctx) -> dict:
    from labels.services import label_unassign_customer

    removed = label_unassign_customer(
        label=_label(params), customer=_customer(ctx), event_depth=ctx.depth + 1
    )
    return {"label": params["label"], "changed": removed}


def award_bonus_points(params: dict, rule, ctx) -> dict:
    from loyalty_management.models import LoyaltyTransaction
    from loyalty_management.selectors import program_for_brand
    from loyalty_management.services.ledger import account_get_or_create, ledger_credit

    customer = _customer(ctx)
    program = program_for_brand(brand_id=ctx.brand_id) if ctx.brand_id else None
    if program is None:
        raise ApplicationError("The brand has no active loyalty program.", code="no_program")
    account = account_get_or_create(customer=customer, program=program)
    write = ledger_credit(
        account_id=account.pk,
        kind=LoyaltyTransaction.Kind.BONUS,
        points=params["points"],
        idempotency_key=f"rule:{rule.id}:{ctx.event_id}",
        order=ctx.order,
        reason=params["reason"] or f"Rule: {rule.name}",
    )
    return {"points": params["points"], "transaction": write.transaction.pk}


def notify(params: dict, rule, ctx) -> dict:
    from brands.models import Brand
    from notifications.services import NotificationService

    payload = {
        **params["payload"],
        "rule": rule.name,
        "trigger_event": ctx.event,
        "order_id": ctx.order.pk if ctx.order is not None else None,
    }
    brand = Brand.objects.filter(pk=ctx.brand_id).first() if ctx.brand_id else None
    notification = NotificationService.send_notification(
        event=params["event"], payload=payload, customer=ctx.customer, brand=brand
    )
    if notification is None:
        raise ApplicationError("The notification could not be recorded.", code="notify_failed")
    return {"event": params["event"], "notification": notification.pk}


def award_badge(params: dict, rule, ctx) -> dict:
    from loyalty_management.services.badges import badge_award_by_rule

    award, created = badge_award_by_rule(
        badge_id=params["badge"], brand_id=ctx.brand_id, customer=_customer(ctx), rule_id=rule.id
    )
    return {"badge": params["badge"], "changed": created, "customer_badge": award.pk}


def issue_reward(params: dict, rule, ctx) -> dict:
    from rewards.lifecycle import reward_issue_by_rule

    reward, created = reward_issue_by_rule(
        template_id=params["template"],
        brand_id=ctx.brand_id,
        customer=_customer(ctx),
        rule_id=rule.id,
        event_id=ctx.event_id,
    )
    return {"template": params["template"], "changed": created, "customer_reward": reward.pk}


ACTION_RUNNERS: dict[str, Callable[[dict, object, object], dict]] = {
    "ADD_LABEL": add_label,
    "REMOVE_LABEL": remove_label,
    "AWARD_BONUS_POINTS": award_bonus_points,
    "NOTIFY": notify,
    "AWARD_BADGE": award_badge,
    "ISSUE_REWARD": issue_reward,
}
