"""Staff roles: Django groups with model permissions.

A role says *what* a staff user may do; `Brand.staff` says *where* (which brands). The spec
below is applied by data migrations through `sync_roles`, which is additive and idempotent: a
later feature extends the spec in its own migration and calls `sync_roles` again. Permissions
of models that do not exist yet are skipped, so a spec may name models of apps still to come.

Each entry is `(app_label, model, actions)`; `model` "*" means every model of the app that
exists when the migration runs.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

ALL = ["add", "change", "delete", "view"]
VIEW = ["view"]

# The apps that hold brand data; "everything" for a role means the models of these apps.
PRODUCT_APPS = [
    "brands",
    "customers",
    "catalog",
    "labels",
    "orders",
    "notifications",
    "promotions",
    "loyalty_management",
    "rules",
    "wallets",
    "rewards",
    "campaigns",
    "vouchers",
    "experiments",
]
LOYALTY = "loyalty_management"
# Adding a ledger transaction is how staff adjust points (through the service, with a reason);
# nobody changes or deletes one.
LOYALTY_PROGRAM_EDIT = ["add", "change", "view"]
LOYALTY_ADJUST = ["add", "view"]
# Customer badges are awarded (by staff, or by rules and orders), never edited or taken back.
BADGE_AWARD = ["add", "view"]
# The points catalogue is edited; redemption requests are made by customers and only decided
# (approved, rejected, sent) by staff, through the services: "change" is deciding.
CATALOGUE_EDIT = [
    ("loyalty_management", "redemptioncategory", ALL),
    ("loyalty_management", "redemptionitem", ALL),
    ("loyalty_management", "redemptionrequest", ["view", "change"]),
]

# Wallets move only through their services: adding a ledger row is a manual adjustment (with a
# reason, within WALLET_ADJUSTMENT_LIMITS); nobody changes or deletes one.
# Claw-backs (credit taken back, e.g. the cashback of a refunded order) are records, read only.
WALLET_ADJUST = [
    ("wallets", "wallet", VIEW),
    ("wallets", "wallettransaction", ["add", "view"]),
    ("wallets", "walletclawback", VIEW),
]
WALLET_VIEW = [
    ("wallets", "wallet", VIEW),
    ("wallets", "wallettransaction", VIEW),
    ("wallets", "walletclawback", VIEW),
]

# Rules, their parts and triggers are edited; the firing log is a record, read only.
# Cross-brand campaigns are edited by their owner brand's staff; progress is derived: read only.
CAMPAIGNS_EDIT = [
    ("campaigns", "crossbrandcampaign", ALL),
    ("campaigns", "campaignprogress", VIEW),
    ("campaigns", "campaignorder", VIEW),
]

RULES_EDIT = [
    ("rules", "ruletrigger", ALL),
    ("rules", "rule", ALL),
    ("rules", "rulecondition", ALL),
    ("rules", "ruleaction", ALL),
    ("rules", "rulefiring", VIEW),
]

# Reward templates are edited; issued rewards are only issued ("add", by staff with a reason)
# and cancelled ("change", an active code), through the services, never edited or deleted.
REWARDS_EDIT = [
    ("rewards", "rewardtemplate", ALL),
    ("rewards", "customerreward", ["add", "change", "view"]),
]

# Batches are created and voided (never edited or deleted: their codes may be out there); codes
# are voided ("change") and looked up; redemptions are a record. Signing keys are nobody's.
VOUCHERS_EDIT = [
    ("vouchers", "voucherbatch", ["add", "change", "view"]),
    ("vouchers", "vouchercode", ["change", "view"]),
    ("vouchers", "voucherredemption", VIEW),
]

# Experiments are edited while drafts, then started, stopped and decided through the services;
# exposures are a record.
EXPERIMENTS_EDIT = [
    ("experiments", "experiment", ["add", "change", "view"]),
    ("experiments", "experimentvariant", ["add", "change", "delete", "view"]),
    ("experiments", "experimentexposure", VIEW),
]

PERSONAL_DATA = ["export", "erase"]

BRAND_ADMIN = "Brand admin"
MARKETING_MANAGER = "Marketing manager"
STORE_MANAGER = "Store manager"
SUPPORT_AGENT = "Support agent"
ANALYST = "Analyst"

RolePermissions = list[tuple[str, str, list[str]]]

ROLE_PERMISSIONS: dict[str, RolePermissions] = {
    BRAND_ADMIN: [
        ("brands", "brand", ["view", "change"]),
        # Exporting and erasing a customer's personal data (GDPR) is for brand admins only.
        ("customers", "customer", PERSONAL_DATA),
        ("brands", "store", ALL),
        ("brands", "posdevice", ALL),
        ("customers", "*", ALL),
        ("catalog", "*", ALL),
        ("labels", "*", ALL),
        ("orders", "order", ALL),
        ("orders", "orderline", ALL),
        ("orders", "paymentstatuschange", VIEW),  # an audit trail is never edited
        ("notifications", "notificationtemplate", ALL),
        ("notifications", "webhookendpoint", ALL),
        # What was sent, and to whom, is a record: read only.
        ("notifications", "*", VIEW),
        ("promotions", "promotion", ALL),
        ("promotions", "promotionversion", VIEW),
        # The usage ledger and its counters move only with orders and POS sales: read only.
        ("promotions", "promotionusage", VIEW),
        ("promotions", "promotionusagecounter", VIEW),
        ("promotions", "promotioncustomerusage", VIEW),
        # What devices uploaded is a record: read only.
        ("promotions", "posticket", VIEW),
        ("promotions", "poslog", VIEW),
        # Published POS bundles are derived data: read only.
        ("promotions", "bundlerelease", VIEW),
        (LOYALTY, "loyaltyprogram", LOYALTY_PROGRAM_EDIT),
        (LOYALTY, "tier", [*LOYALTY_PROGRAM_EDIT, "delete"]),
        (LOYALTY, "loyaltytransaction", LOYALTY_ADJUST),
        # Adjustments above another role's limits wait for a brand admin's approval.
        (LOYALTY, "loyaltyadjustment", ["view", "approve"]),
        (LOYALTY, "badgedefinition", ALL),
        (LOYALTY, "customerbadge", BADGE_AWARD),
        (LOYALTY, "*", VIEW),
        *CATALOGUE_EDIT,
        *RULES_EDIT,
        *WALLET_ADJUST,
        *REWARDS_EDIT,
        *CAMPAIGNS_EDIT,
        *VOUCHERS_EDIT,
        *EXPERIMENTS_EDIT,
    ],
    MARKETING_MANAGER: [
        ("labels", "label", ALL),
        ("labels", "customerlabel", ALL),
        ("labels", "productlabel", ALL),
        ("customers", "customer", ["view", "change"]),
        ("customers", "customerbrand", VIEW),
        ("catalog", "product", VIEW),
        ("catalog", "category", VIEW),
        ("orders", "order", VIEW),
        ("orders", "orderline", VIEW),
        ("brands", "brand", VIEW),
        ("brands", "store", VIEW),
        ("notifications", "notificationtemplate", ALL),
        ("promotions", "promotion", ALL),
        ("promotions", "promotionversion", VIEW),
        ("promotions", "promotionusage", VIEW),
        ("promotions", "promotionusagecounter", VIEW),
        ("promotions", "promotioncustomerusage", VIEW),
        (LOYALTY, "loyaltyprogram", LOYALTY_PROGRAM_EDIT),
        (LOYALTY, "tier", [*LOYALTY_PROGRAM_EDIT, "delete"]),
        (LOYALTY, "badgedefinition", ALL),
        (LOYALTY, "customerbadge", BADGE_AWARD),
        (LOYALTY, "*", VIEW),
        *CATALOGUE_EDIT,
        *RULES_EDIT,
        *WALLET_VIEW,
        *REWARDS_EDIT,
        *CAMPAIGNS_EDIT,
        *VOUCHERS_EDIT,
        *EXPERIMENTS_EDIT,
    ],
    STORE_MANAGER: [
        ("orders", "order", ["add", "change", "view"]),
        ("orders", "orderline", ["add", "change", "view"]),
        ("orders", "paymentstatuschange", VIEW),
        ("brands", "brand", VIEW),
        ("brands", "store", ["view", "add", "change"]),
        ("brands", "posdevice", ["view", "add", "change"]),
        ("catalog", "product", ["view", "change"]),
        ("catalog", "category", VIEW),
        ("customers", "customer", ["view", "add"]),
        ("customers", "customerbrand", ["view", "add"]),
        ("labels", "label", VIEW),
        ("promotions", "promotion", VIEW),
        ("promotions", "posticket", VIEW),
        ("promotions", "poslog", VIEW),
        ("promotions", "bundlerelease", VIEW),
        (LOYALTY, "loyaltyaccount", VIEW),
        # A till's staff look a code up when a customer asks why it did not apply.
        ("vouchers", "vouchercode", VIEW),
        ("vouchers", "voucherredemption", VIEW),
    ],
    SUPPORT_AGENT: [
        ("customers", "customer", ["view", "change"]),
        ("customers", "customerbrand", VIEW),
        ("orders", "order", ["view", "change"]),
        ("orders", "orderline", VIEW),
        ("orders", "paymentstatuschange", VIEW),
        ("labels", "label", VIEW),
        ("labels", "customerlabel", VIEW),
        ("brands", "brand", VIEW),
        ("brands", "store", VIEW),
        ("notifications", "*", VIEW),
        (LOYALTY, "loyaltyaccount", VIEW),
        (LOYALTY, "loyaltytransaction", LOYALTY_ADJUST),
        (LOYALTY, "loyaltyadjustment", VIEW),
        (LOYALTY, "loyaltytierperiod", VIEW),
        (LOYALTY, "badgedefinition", VIEW),
        (LOYALTY, "customerbadge", VIEW),
        (LOYALTY, "redemptionrequest", VIEW),
        ("rules", "*", VIEW),
        *WALLET_ADJUST,
        # A goodwill reward from the brand's templates; cancelling is for managers.
        ("rewards", "rewardtemplate", VIEW),
        ("rewards", "customerreward", ["add", "view"]),
    ],
    ANALYST: [(app_label, "*", VIEW) for app_label in PRODUCT_APPS],
}


@dataclass(frozen=True)
class AdjustmentLimit:
    """Points (either way) a staff user may adjust by hand without approval."""

    per_adjustment: int
    per_day: int  # in any 24 hours, approved and pending adjustments together


# Manual point adjustments by role. `None`: no limit. Above a limit an adjustment is created
# pending and a brand admin approves or rejects it. A user with several roles gets the most
# generous; staff who may adjust through no listed role (a permission granted by hand) get
# DEFAULT_ADJUSTMENT_LIMIT. Superusers have no limit.
ADJUSTMENT_LIMITS: dict[str, AdjustmentLimit | None] = {
    BRAND_ADMIN: None,
    SUPPORT_AGENT: AdjustmentLimit(per_adjustment=500, per_day=2_000),
}
DEFAULT_ADJUSTMENT_LIMIT = AdjustmentLimit(per_adjustment=500, per_day=2_000)


def adjustment_limit_for(user) -> AdjustmentLimit | None:
    """The user's limit for manual point adjustments; None when they have none."""
    if user is None or getattr(user, "pk", None) is None or user.is_superuser:
        return None
    roles = set(user.groups.values_list("name", flat=True)) & set(ADJUSTMENT_LIMITS)
    if not roles:
        return DEFAULT_ADJUSTMENT_LIMIT
    limits = [ADJUSTMENT_LIMITS[role] for role in roles]
    if any(limit is None for limit in limits):
        return None
    return AdjustmentLimit(
        per_adjustment=max(limit.per_adjustment for limit in limits),
        per_day=max(limit.per_day for limit in limits),
    )


# Manual wallet adjustments by role: the most a single adjustment moves, either way. `None`: no
# limit. A user with several roles gets the most generous; staff who may adjust through no
# listed role get DEFAULT_WALLET_ADJUSTMENT_LIMIT. Superusers have no limit.
WALLET_ADJUSTMENT_LIMITS: dict[str, Decimal | None] = {
    BRAND_ADMIN: None,
    SUPPORT_AGENT: Decimal("50.00"),
}
DEFAULT_WALLET_ADJUSTMENT_LIMIT = Decimal("50.00")


def wallet_adjustment_limit_for(user) -> Decimal | None:
    """The most the user may adjust a wallet by at a time; None when unlimited."""
    if user is None or getattr(user, "pk", None) is None or user.is_superuser:
        return None
    roles = set(user.groups.values_list("name", flat=True)) & set(WALLET_ADJUSTMENT_LIMITS)
    if not roles:
        return DEFAULT_WALLET_ADJUSTMENT_LIMIT
    limits = [WALLET_ADJUSTMENT_LIMITS[role] for role in roles]
    if any(limit is None for limit in limits):
        return None
    return max(limits)


def _ensure_permissions(apps) -> None:
    """Create content types and permissions for the models in `apps` now.

    Django creates them only after `migrate` finishes (post_migrate), too late for a data
    migration that assigns them, and skips app configs of migration states (no models module).
    """
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        try:
            create_contenttypes(app_config, apps=apps, verbosity=0)
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = previous


def _codenames(apps, app_label: str, model: str, actions: Iterable[str]) -> list[tuple[str, str]]:
    if model == "*":
        try:
            models = [m._meta.model_name for m in apps.get_app_config(app_label).get_models()]
        except LookupError:  # the app is not installed (yet)
            return []
    else:
        models = [model]
    return [(app_label, f"{action}_{name}") for name in models for action in actions]


def sync_roles(
    apps,
    schema_editor=None,
    spec: dict[str, RolePermissions] | None = None,
    *,
    ensure_permissions: bool = True,
) -> None:
    """Create the role groups and grant them the permissions of `spec` (ROLE_PERMISSIONS).

    Additive: permissions granted by hand or by an earlier spec are kept. Run it again after a
    new model appears and its permissions are granted too. Usable as a `RunPython` callable;
    after `migrate` (post_migrate) the permissions already exist, so it only grants them.
    """
    spec = ROLE_PERMISSIONS if spec is None else spec
    if ensure_permissions:
        _ensure_permissions(apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permission_ids = {
        (app_label, codename): pk
        for pk, app_label, codename in permission_model.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role, entries in spec.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = {
            permission_ids[key]
            for app_label, model, actions in entries
            for key in _codenames(apps, app_label, model, actions)
            if key in permission_ids
        }
        granted = set(group.permissions.values_list("pk", flat=True))
        missing = wanted - granted
        if missing:
            group.permissions.add(*missing)


def noop_reverse(apps, schema_editor) -> None:
    """Unapplying a roles migration keeps the groups: staff may be in them."""
