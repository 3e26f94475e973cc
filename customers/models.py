"""Customers are global: one person is one customer across every brand."""

from django.conf import settings
from django.db import models
from django.db.models.functions import ExtractDay, ExtractMonth, Lower
from django.utils import timezone

from core.models import TimeStampedModel


class Customer(TimeStampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customer",
        help_text="Login of the customer for the storefront API, if they have one.",
    )
    email = models.EmailField(null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    external_id = models.CharField(max_length=64, null=True, blank=True)
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the customer's personal data was erased; orders and points are kept.",
    )
    brands = models.ManyToManyField(
        "brands.Brand",
        through="CustomerBrand",
        related_name="customers",
        blank=True,
        help_text="Brands that know this customer (signed up there, or ordered there).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("export_customer", "Can export a customer's personal data"),
            ("erase_customer", "Can erase a customer's personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="customer_email_unique_ci",
                violation_error_message="Another customer has this email address.",
            ),
            models.UniqueConstraint(fields=["external_id"], name="customer_external_id_unique"),
        ]
        indexes = [
            # The birthday sweep (`rewards.sweeps`) looks customers up by month and day.
            models.Index(
                ExtractMonth("birth_date"), ExtractDay("birth_date"), name="customer_birthday"
            ),
        ]

    def __str__(self) -> str:
        # Shown wherever a customer is named (admin links, history, autocomplete): the name,
        # never the email or phone, which staff see only as their role allows.
        return self.full_name or f"Customer {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class CustomerBrand(models.Model):
    """A customer is known to a brand from the first time they sign up or order there."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="brand_links")
    brand = models.ForeignKey(
        "brands.Brand", on_delete=models.CASCADE, related_name="customer_links"
    )
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "brand"], name="customer_brand_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer} @ {self.brand}"


class PersonalDataAudit(models.Model):
    """Who exported or erased a customer's personal data, and when. Never edited."""

    class Action(models.TextChoices):
        EXPORT = "export", "Export"
        ERASE = "erase", "Erase"

    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, related_name="personal_data_audits"
    )
    customer_number = models.BigIntegerField(
        db_index=True, help_text="The customer's id, kept if the customer row is deleted."
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, help_text="The actor's username at the time.")
    via = models.CharField(max_length=16, help_text="api, admin or command.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "personal data audit record"

    def __str__(self) -> str:
        return (
            f"{self.get_action_display()} of customer {self.customer_number} by {self.actor_name}"
        )
