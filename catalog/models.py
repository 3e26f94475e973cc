"""What a brand sells: a category tree and products."""

from django.core.exceptions import ValidationError
from django.db import models

from core.models import TimeStampedModel
from core.money import MoneyField


class Category(TimeStampedModel):
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="categories")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)

    class Meta:
        ordering = ["brand__name", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["brand", "slug"], name="category_slug_unique_per_brand")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent_id is None:
            return
        if self.parent.brand_id != self.brand_id:
            raise ValidationError({"parent": "The parent category belongs to another brand."})
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk:
                raise ValidationError({"parent": "A category cannot be its own ancestor."})
            ancestor = ancestor.parent


class Product(TimeStampedModel):
    brand = models.ForeignKey("brands.Brand", on_delete=models.PROTECT, related_name="products")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="products"
    )
    price = MoneyField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["brand__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "sku"], name="product_sku_unique_per_brand"),
            models.CheckConstraint(
                condition=models.Q(price__gte=0),
                name="product_price_not_negative",
                violation_error_message="The price cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def clean(self) -> None:
        if self.category_id and self.category.brand_id != self.brand_id:
            raise ValidationError({"category": "The category belongs to another brand."})
