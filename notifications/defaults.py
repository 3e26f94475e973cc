"""Default notification templates: one email and one inbox message for every event the product
sends, so a new install notifies out of the box instead of recording every notice as skipped.

`DEFAULT_TEMPLATES` is the registry: every event name passed to
`NotificationService.send_notification` in the code has an entry (a test scans the source).
The variables are the keys of the payload each call site really sends, plus `customer` and
`brand` (see `notifications.services.template_context`). Dates reach templates as ISO strings
(the payload is stored as JSON), hence `|slice:":10"` for the day.

`default_templates_install` creates the global templates that are missing and never touches
one that exists, so what staff edited in the admin stays as it is.
"""

from dataclasses import dataclass

from django.db import transaction

from notifications.models import NotificationTemplate, TemplateChannel

GREETING = "Hello {{ customer.first_name|default:'there' }},"
SIGNATURE = "The {{ brand.name|default:'loyalty' }} team"


@dataclass(frozen=True)
class DefaultTemplate:
    subject: str
    email_body: str
    inbox_body: str


DEFAULT_TEMPLATES: dict[str, DefaultTemplate] = {
    # marketing.services.award_loyalty_points: points, order_id, available_points,
    # pending_points, available_at.
    "loyalty.points.earned": DefaultTemplate(
        subject="You earned {{ points }} points at {{ brand.name }}",
        email_body=(
            f"{GREETING}\n\n"
            "Thank you for your order {{ order_id }}: it earned you {{ points }} points.\n\n"
            "You now have {{ available_points }} points to spend"
            "{% if pending_points %}, and {{ pending_points }} more on hold until the return "
            "period ends{% endif %}.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "Your order {{ order_id }} earned you {{ points }} points. You now have "
            "{{ available_points }} points to spend."
        ),
    ),
    # loyalty_management.services.notices.expiring_points_notify: points, expires_at,
    # account_id.
    "loyalty.points.expiring": DefaultTemplate(
        subject="{{ points }} of your points expire on {{ expires_at|slice:':10' }}",
        email_body=(
            f"{GREETING}\n\n"
            "{{ points }} points in your {{ brand.name }} account expire on "
            "{{ expires_at|slice:':10' }}. Use them before then so that you do not lose them.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "{{ points }} of your points expire on {{ expires_at|slice:':10' }}. Use them "
            "before then."
        ),
    ),
    # loyalty_management.services.badges.badge_award: badge_id, badge, description, icon,
    # awarded_at.
    "loyalty.badge.awarded": DefaultTemplate(
        subject="You earned a new badge: {{ badge }}",
        email_body=(
            f"{GREETING}\n\n"
            "Congratulations, you earned the {{ badge }} badge at {{ brand.name }}."
            "{% if description %}\n\n{{ description }}{% endif %}\n\n"
            "You can see all your badges in your account.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "Congratulations, you earned the {{ badge }} badge."
            "{% if description %} {{ description }}{% endif %}"
        ),
    ),
    # rules.actions.notify (the rule action NOTIFY) sends the event its rule names, with the
    # rule's own payload plus rule, trigger_event and order_id. The event documented as the
    # example in the rule forms and the API gets a default; other names need their own.
    # loyalty_management.services.redemptions._notify: redemption_id, item, points, status,
    # and reason when rejected.
    "loyalty.redemption.requested": DefaultTemplate(
        subject="We received your request for {{ item }}",
        email_body=(
            f"{GREETING}\n\n"
            "You asked for {{ item }} for {{ points }} points. The points are set aside until "
            "your request is decided; we will tell you as soon as it is.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "You asked for {{ item }} for {{ points }} points. The points are set aside until "
            "your request is decided."
        ),
    ),
    "loyalty.redemption.approved": DefaultTemplate(
        subject="Your request for {{ item }} is approved",
        email_body=(
            f"{GREETING}\n\n"
            "Good news: your request for {{ item }} is approved, for {{ points }} points.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body="Your request for {{ item }} is approved, for {{ points }} points.",
    ),
    "loyalty.redemption.rejected": DefaultTemplate(
        subject="Your request for {{ item }} was not approved",
        email_body=(
            f"{GREETING}\n\n"
            "We could not approve your request for {{ item }}: {{ reason }}\n\n"
            "Your {{ points }} points are back in your account.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "Your request for {{ item }} was not approved: {{ reason }} Your {{ points }} "
            "points are back in your account."
        ),
    ),
    # rewards.services.reward_issue: reward_id, name, kind, code, valid_until, points, amount.
    "loyalty.reward.issued": DefaultTemplate(
        subject="A reward for you: {{ name }}",
        email_body=(
            f"{GREETING}\n\n"
            "You have a new reward at {{ brand.name }}: {{ name }}."
            "{% if code %}\n\nUse the code {{ code }} with your next order"
            "{% if valid_until %}, by {{ valid_until|slice:':10' }}{% endif %}.{% endif %}"
            "{% if points %}\n\n{{ points }} points are in your account.{% endif %}\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "A reward for you: {{ name }}.{% if code %} Your code is {{ code }}"
            "{% if valid_until %}, valid until {{ valid_until|slice:':10' }}{% endif %}."
            "{% endif %}"
        ),
    ),
    # rewards.sweeps.expiring_rewards_notify: reward_id, name, kind, code, valid_until.
    "loyalty.reward.expiring": DefaultTemplate(
        subject="Your reward {{ name }} expires soon",
        email_body=(
            f"{GREETING}\n\n"
            "Your reward at {{ brand.name }}, {{ name }}, is valid until "
            "{{ valid_until|slice:':10' }}.{% if code %} Use the code {{ code }} with an order "
            "before then.{% endif %}\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "Your reward {{ name }} expires on {{ valid_until|slice:':10' }}."
            "{% if code %} Your code is {{ code }}.{% endif %}"
        ),
    ),
    # campaigns.services._reward_issue: campaign_id, campaign, reward_id, reward, kind, points,
    # amount, code.
    "loyalty.campaign.completed": DefaultTemplate(
        subject="You completed {{ campaign }}",
        email_body=(
            f"{GREETING}\n\n"
            "You completed the campaign {{ campaign }}: thank you for shopping with us and "
            "our partner brands.\n\n"
            "Your reward: {{ reward }}."
            "{% if code %} Use the code {{ code }} with your next order.{% endif %}"
            "{% if points %} {{ points }} points are in your account.{% endif %}\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "You completed {{ campaign }}. Your reward: {{ reward }}."
            "{% if code %} Your code is {{ code }}.{% endif %}"
        ),
    ),
    # vouchers.distribution.voucher_batch_distribute: code_id, code, batch_id, promotion_id,
    # promotion, valid_from (only when still to come), valid_until.
    "voucher.assigned": DefaultTemplate(
        subject="Your code for {{ promotion }} at {{ brand.name }}",
        email_body=(
            f"{GREETING}\n\n"
            "Here is your personal code for {{ promotion }}: {{ code }}\n\n"
            "Enter it with your order"
            "{% if valid_from %} from {{ valid_from|slice:':10' }}{% endif %}"
            "{% if valid_until %} until {{ valid_until|slice:':10' }}{% endif %}.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body=(
            "Your code for {{ promotion }} is {{ code }}"
            "{% if valid_from %}, from {{ valid_from|slice:':10' }}{% endif %}"
            "{% if valid_until %}, valid until {{ valid_until|slice:':10' }}{% endif %}."
        ),
    ),
    "rules.vip_welcome": DefaultTemplate(
        # A global rule (the VIP example is one) notifies without a brand.
        subject=("Welcome to {% if brand %}the {{ brand.name }}{% else %}our{% endif %} VIP club"),
        email_body=(
            f"{GREETING}\n\n"
            "You are now one of our VIP customers: your new orders get a VIP discount, and "
            "you will hear about our offers first.\n\n"
            f"{SIGNATURE}"
        ),
        inbox_body="You are now one of our VIP customers: your new orders get a VIP discount.",
    ),
}

CHANNEL_BODIES = {
    TemplateChannel.EMAIL: "email_body",
    TemplateChannel.INBOX: "inbox_body",
}


@transaction.atomic
def default_templates_install() -> int:
    """Create every missing global default template (email and inbox per event). A template
    that exists for the event and channel, edited or deactivated, is left as it is. Returns
    how many were created."""
    existing = set(
        NotificationTemplate.objects.filter(
            brand__isnull=True, event__in=list(DEFAULT_TEMPLATES)
        ).values_list("event", "channel")
    )
    created = 0
    for event, default in DEFAULT_TEMPLATES.items():
        for channel, body_field in CHANNEL_BODIES.items():
            if (event, channel.value) in existing:
                continue
            template = NotificationTemplate(
                event=event,
                channel=channel,
                brand=None,
                subject=default.subject,
                body=getattr(default, body_field),
            )
            template.full_clean()
            template.save()
            created += 1
    return created
