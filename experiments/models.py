"""A/B experiments: promotion variants shown to deterministic shares of a brand's customers.

An experiment has variants with weights; exactly one is the control, which may have no promotion
("no promotion" is the status quo) or the promotion in place today. While the experiment runs,
each variant's promotion is compiled with the experiment (`experiment` in the compiled form), so
the server and a till assign a customer to the same variant (`promotions.services.calculator.
experiment_variant`) and only that variant's promotion applies to them.

A customer is exposed the first time a basket of theirs is priced while the experiment runs and
they are in its audience (`ExperimentExposure`, one row per customer); outcomes are their paid
orders from that moment until the experiment's end (`experiments.results`).
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


def new_salt() -> str:
    return secrets.token_hex(8)


class Experiment(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "Every identified customer"
        LABEL = "label", "Customers with a label"
        TIER = "tier", "Customers of a loyalty tier"

    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    hypothesis = models.TextField(blank=True, help_text="What the experiment should show.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.EVERYONE)
    audience_label = models.ForeignKey(
        "labels.Label", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    audience_tier = models.CharField(max_length=80, blank=True, help_text="A tier's name.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    gross_margin_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("30.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Gross margin on sales, used for the incremental margin of each variant.",
    )
    salt = models.CharField(max_length=32, default=new_salt, editable=False)
    winner = models.ForeignKey(
        "experiments.ExperimentVariant",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="experiment_ends_after_start",
                violation_error_message="The end must be after the start.",
            ),
            models.CheckConstraint(
                condition=Q(audience="everyone", audience_label__isnull=True, audience_tier="")
                | Q(audience="label", audience_label__isnull=False, audience_tier="")
                | Q(audience="tier", audience_label__isnull=True, audience_tier__gt=""),
                name="experiment_audience_fields",
                violation_error_message=(
                    "A label audience needs its label, a tier audience its tier, and everyone "
                    "neither."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExperimentVariant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=80)
    promotion = models.ForeignKey(
        "promotions.Promotion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="experiment_variants",
        help_text="Empty: no promotion.",
    )
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Share of customers, relative."
    )
    is_control = models.BooleanField(default=False)

    class Meta:
        ordering = ["experiment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment"],
                condition=Q(is_control=True),
                name="experiment_one_control",
                violation_error_message="An experiment has one control.",
            ),
            models.UniqueConstraint(
                fields=["experiment", "promotion"],
                name="experiment_variant_promotion_once",
                violation_error_message="A promotion is one variant of an experiment.",
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1),
                name="experiment_variant_weight",
                violation_error_message="A variant's weight is at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExperimentExposure(models.Model):
    """The first time a customer's basket was priced under the experiment, and their variant."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures")
    variant = models.ForeignKey(ExperimentVariant, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    exposed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "customer"], name="experiment_exposure_once"
            ),
        ]
        indexes = [models.Index(fields=["experiment", "variant"], name="experiment_exposure_var")]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.customer_id} -> {self.variant_id}"
