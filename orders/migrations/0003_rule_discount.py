"""The rule discount of an order (rules of the order.created event)."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_promotion_pricing"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="discount_amount",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0.00"),
                help_text="The rule discount.",
                max_digits=14,
                validators=[django.core.validators.MinValueValidator(0)],
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="discount_description",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="order",
            name="discount_percentage",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="The percentage of the rule discount; empty for amount-only rule "
                "discounts.",
                max_digits=5,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="rule_discounts",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='Which rule gave what: [{"rule_id", "name", "description", '
                '"percentage", "amount"}].',
            ),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("discount_amount__gte", 0),
                    ("discount_amount__lte", models.F("discount_total")),
                    models.Q(
                        ("discount_percentage__isnull", True),
                        models.Q(("discount_percentage__gt", 0), ("discount_percentage__lte", 100)),
                        _connector="OR",
                    ),
                ),
                name="order_rule_discount_within_discount",
            ),
        ),
    ]
