"""Tenancy: brands, their stores and the POS devices in those stores."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from core.models import TimeStampedModel
from core.money import CURRENCY_CHOICES


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.", code="invalid_time_zone")


class Brand(TimeStampedModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="EUR")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    storefront_host = models.CharField(
        max_length=253,
        blank=True,
        help_text="Host name of the brand's storefront (for example shop.example.com).",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="staff_brands",
        help_text="Staff users who see and change this brand's data.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["storefront_host"],
                condition=~models.Q(storefront_host=""),
                name="brand_storefront_host_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Store(TimeStampedModel):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="stores")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        ordering = ["brand__name", "code"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="store_code_unique_per_brand")
        ]

    def __str__(self) -> str:
        return f"{self.brand.slug}/{self.code}"


class PosDevice(TimeStampedModel):
    """A till. Its API key is shown once at creation; only a SHA-256 hash is kept."""

    # `request.auth` is a PosDevice for device-authenticated API calls; this marks it.
    is_pos_device = True

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=120)
    key_prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["store__brand__name", "store__code", "name"]
        verbose_name = "POS device"

    def __str__(self) -> str:
        return f"{self.name} ({self.store})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def brand(self) -> Brand:
        return self.store.brand
