"""The promotion usage ledger and its counters, backfilled from the promotions the existing
orders applied (orders that failed or were cancelled did not count and are left out)."""

from collections import Counter, defaultdict
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Sum

VOID = ("failed", "cancelled")
PAID = ("paid", "partially_refunded", "refunded")


def backfill(apps, schema_editor):
    OrderPromotion = apps.get_model("orders", "OrderPromotion")
    Usage = apps.get_model("promotions", "PromotionUsage")
    Counter_ = apps.get_model("promotions", "PromotionUsageCounter")
    CustomerUsage = apps.get_model("promotions", "PromotionCustomerUsage")

    rows = (
        OrderPromotion.objects.filter(promotion__isnull=False)
        .exclude(order__payment_status__in=VOID)
        .values(
            "order_id",
            "promotion_id",
            "order__customer_id",
            "order__payment_status",
            "order__created_at",
            "order__paid_at",
        )
        .annotate(given=Sum("amount"))
        .order_by("order_id", "promotion_id")
    )
    uses: Counter = Counter()
    given: defaultdict = defaultdict(lambda: Decimal("0.00"))
    customer_uses: Counter = Counter()
    entries = []
    for row in rows.iterator(chunk_size=2000):
        promotion_id, customer_id = row["promotion_id"], row["order__customer_id"]
        common = {
            "promotion_id": promotion_id,
            "order_id": row["order_id"],
            "customer_id": customer_id,
            "source": f"order:{row['order_id']}",
        }
        entries.append(
            Usage(
                kind="reserve",
                uses=1,
                amount=row["given"],
                created_at=row["order__created_at"],
                **common,
            )
        )
        if row["order__payment_status"] in PAID:
            entries.append(
                Usage(
                    kind="commit",
                    uses=0,
                    amount=Decimal("0.00"),
                    created_at=row["order__paid_at"] or row["order__created_at"],
                    **common,
                )
            )
        uses[promotion_id] += 1
        given[promotion_id] += row["given"]
        if customer_id is not None:
            customer_uses[promotion_id, customer_id] += 1
        if len(entries) >= 2000:
            Usage.objects.bulk_create(entries)
            entries = []
    Usage.objects.bulk_create(entries)
    Counter_.objects.bulk_create(
        Counter_(promotion_id=pk, uses=count, amount=given[pk]) for pk, count in uses.items()
    )
    CustomerUsage.objects.bulk_create(
        (
            CustomerUsage(promotion_id=pk, customer_id=customer_id, uses=count)
            for (pk, customer_id), count in customer_uses.items()
        ),
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("orders", "0003_rule_discount"),
        ("promotions", "0003_sync_bundles"),
    ]

    operations = [
        migrations.CreateModel(
            name="PromotionUsageCounter",
            fields=[
                (
                    "promotion",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="usage_counter",
                        serialize=False,
                        to="promotions.promotion",
                    ),
                ),
                ("uses", models.IntegerField(default=0)),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("0.00"),
                        help_text="Discount (or cashback) given, in the currency.",
                        max_digits=14,
                        validators=[django.core.validators.MinValueValidator(0)],
                    ),
                ),
            ],
            options={
                "verbose_name": "promotion usage counter",
            },
        ),
        migrations.CreateModel(
            name="PromotionCustomerUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("uses", models.IntegerField(default=0)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
                (
                    "promotion",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="promotions.promotion",
                    ),
                ),
            ],
            options={
                "verbose_name": "promotion customer usage",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("promotion", "customer"), name="promotion_customer_usage_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PromotionUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("reserve", "Reserve"),
                            ("commit", "Commit"),
                            ("release", "Release"),
                            ("offline", "Offline"),
                        ],
                        max_length=8,
                    ),
                ),
                ("uses", models.IntegerField(help_text="Effect on the use counts.")),
                (
                    "amount",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="Effect on the discount given (signed).",
                        max_digits=14,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        help_text='What caused it: "order:<id>" or "pos-ticket:<id>".',
                        max_length=100,
                    ),
                ),
                (
                    "overrun",
                    models.BooleanField(default=False, help_text="Offline use past a limit."),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, editable=False
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="orders.order",
                    ),
                ),
                (
                    "promotion",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="usages",
                        to="promotions.promotion",
                    ),
                ),
            ],
            options={
                "verbose_name": "promotion usage",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["promotion", "kind"], name="promotion_usage_kind"),
                    models.Index(
                        condition=models.Q(("overrun", True)),
                        fields=["promotion"],
                        name="promotion_usage_overrun",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("source", "kind", "promotion"), name="promotion_usage_once"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
