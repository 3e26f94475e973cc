"""Reads of experiments for staff: their brands' experiments with the variants (and, for one
experiment, each variant's exposed customers so far), and the promotions and labels a new
experiment of theirs may name."""

from collections.abc import Iterable

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from brands.selectors import scope_to_user_brands
from experiments.models import Experiment, ExperimentExposure, ExperimentVariant
from labels.models import Label
from promotions.models import Promotion


def _variants(*, with_exposures: bool) -> QuerySet[ExperimentVariant]:
    variants = ExperimentVariant.objects.select_related("promotion").order_by("pk")
    if not with_exposures:
        return variants
    exposed = (
        ExperimentExposure.objects.filter(variant=OuterRef("pk"))
        .order_by()
        .values("variant")
        .annotate(customers=Count("pk"))
        .values("customers")
    )
    return variants.annotate(
        exposed_customers=Coalesce(Subquery(exposed, output_field=IntegerField()), 0)
    )


def experiments_for_staff(*, user, with_exposures: bool = False) -> QuerySet[Experiment]:
    """The experiments of the user's brands, newest start first, with their brand and their
    variants (and each variant's promotion) in one query more. `with_exposures` counts each
    variant's exposed customers (`exposed_customers`): meant for one experiment, not a page."""
    return scope_to_user_brands(
        Experiment.objects.select_related("brand"), user, "brand"
    ).prefetch_related(Prefetch("variants", queryset=_variants(with_exposures=with_exposures)))


def experiment_for_staff(
    *, user, experiment_id: int, with_exposures: bool = False
) -> Experiment | None:
    """One experiment of the user's brands; None when it is another brand's or does not
    exist."""
    return (
        experiments_for_staff(user=user, with_exposures=with_exposures)
        .filter(pk=experiment_id)
        .first()
    )


def promotions_for_staff(*, user, promotion_ids: Iterable[int]) -> dict[int, Promotion]:
    """The promotions among `promotion_ids` that belong to the user's brands, by id (one
    query)."""
    wanted = sorted(set(promotion_ids))
    if not wanted:
        return {}
    promotions = scope_to_user_brands(
        Promotion.objects.filter(pk__in=wanted), user, "brand"
    ).order_by("pk")
    return {promotion.pk: promotion for promotion in promotions}


def customer_label_for_staff(*, user, label_id: int) -> Label | None:
    """A label of the user's brands, or a global one, by id; None otherwise (whether it is a
    customer label of the experiment's brand is the service's to say)."""
    return (
        scope_to_user_brands(Label.objects.all(), user, "brand", include_global=True)
        .filter(pk=label_id)
        .first()
    )
