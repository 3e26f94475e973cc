"""Labels tag customers and products (`Customer_VIP`, `Vegan`); rules and promotions target them."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel


class Label(TimeStampedModel):
    class Type(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        PRODUCT = "product", "Product"
        ORDER = "order", "Order"

    name = models.CharField(max_length=80)
    type = models.CharField(max_length=16, choices=Type.choices)
    brand = models.ForeignKey(
        "brands.Brand",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="labels",
        help_text="Empty means the label is global, shared by every brand.",
    )
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "type", "brand"], name="label_unique_per_brand"
            ),
            models.UniqueConstraint(
                fields=["name", "type"],
                condition=models.Q(brand__isnull=True),
                name="label_global_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.brand_id is None else f"{self.name} ({self.brand.slug})"


class LabelAssignment(models.Model):
    label = models.ForeignKey(Label, on_delete=models.CASCADE)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class CustomerLabel(LabelAssignment):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="label_assignments"
    )

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "label"], name="customer_label_unique")
        ]

    def __str__(self) -> str:
        return f"{self.label} → {self.customer}"


class ProductLabel(LabelAssignment):
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="label_assignments"
    )

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["product", "label"], name="product_label_unique")
        ]

    def __str__(self) -> str:
        return f"{self.label} → {self.product}"
