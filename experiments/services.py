"""Experiments: create, start, stop, promote a winner; record exposures. The only way they
change.

Starting compiles every variant's promotion with the experiment, so each customer is priced
under their variant only (server and tills alike). Stopping pauses the promotions of the
variants other than the control (they must not start applying to everyone), and the control's
promotion, if any, goes on for everyone as before. Promoting a winner stops the experiment and
keeps only the winner: its promotion goes on for everyone, the other variants' promotions end
(a winning "no promotion" control ends them all).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from brands.models import Brand
from core.errors import ApplicationError, ConflictError, NotFoundError
from experiments.models import Experiment, ExperimentExposure, ExperimentVariant
from labels.models import Label
from promotions.models import Promotion
from promotions.services.calculator import experiment_includes, experiment_variant

logger = logging.getLogger(__name__)

ES = Experiment.Status
LIVE = (Promotion.Status.ACTIVE, Promotion.Status.SCHEDULED)
MAX_VARIANTS = 10
# How long the cache remembers that a customer's exposure is recorded (a miss only costs an
# INSERT that finds the row).
EXPOSED_SECONDS = 24 * 3600


@dataclass(frozen=True)
class VariantInput:
    name: str
    promotion: Promotion | None
    weight: int = 1
    is_control: bool = False


def _invalid(message: str, fields: dict[str, list[str]]) -> ApplicationError:
    return ApplicationError(message, code="invalid_experiment", fields=fields)


def experiment_errors(
    *,
    brand: Brand,
    name: str,
    audience: str,
    audience_label: Label | None,
    audience_tier: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    variants: Sequence[VariantInput],
) -> dict[str, list[str]]:
    """What is wrong with an experiment's fields, a plain sentence per field."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Give the experiment a name."]
    if audience not in Experiment.Audience.values:
        errors["audience"] = ["Choose who takes part."]
    elif audience == "label":
        if audience_label is None:
            errors["audience_label"] = ["Choose the customer label."]
        elif audience_label.type != Label.Type.CUSTOMER or audience_label.brand_id not in (
            None,
            brand.pk,
        ):
            errors["audience_label"] = ["Choose a customer label of this brand."]
    elif audience == "tier" and not audience_tier.strip():
        errors["audience_tier"] = ["Name the loyalty tier."]
    if starts_at is None:
        errors["starts_at"] = ["When does it start?"]
    if ends_at is None:
        errors["ends_at"] = ["When does it end?"]
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = ["The end must be after the start."]
    problems = []
    if not 2 <= len(variants) <= MAX_VARIANTS:
        problems.append(f"An experiment has between 2 and {MAX_VARIANTS} variants.")
    if sum(1 for v in variants if v.is_control) != 1:
        problems.append("Mark exactly one variant as the control.")
    promotions = [v.promotion for v in variants if v.promotion is not None]
    if len({p.pk for p in promotions}) != len(promotions):
        problems.append("A promotion can be only one of the variants.")
    if any(p.brand_id != brand.pk for p in promotions):
        problems.append("Every promotion must be one of the experiment's brand.")
    if any(not v.name.strip() for v in variants):
        problems.append("Give every variant a name.")
    if any(v.weight < 1 for v in variants):
        problems.append("Every variant's weight is at least 1.")
    if problems:
        errors["variants"] = problems
    return errors


@transaction.atomic
def experiment_create(
    *,
    brand: Brand,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    variants: Sequence[VariantInput],
    audience: str = Experiment.Audience.EVERYONE,
    audience_label: Label | None = None,
    audience_tier: str = "",
    hypothesis: str = "",
    gross_margin_percent=None,
    actor=None,
) -> Experiment:
    """Create a draft experiment with its variants."""
    errors = experiment_errors(
        brand=brand,
        name=name,
        audience=audience,
        audience_label=audience_label,
        audience_tier=audience_tier,
        starts_at=starts_at,
        ends_at=ends_at,
        variants=variants,
    )
    if errors:
        raise _invalid("The experiment cannot be saved: fix the fields listed.", errors)
    experiment = Experiment.objects.create(
        brand=brand,
        name=name.strip(),
        hypothesis=hypothesis,
        audience=audience,
        audience_label=audience_label if audience == "label" else None,
        audience_tier=audience_tier.strip() if audience == "tier" else "",
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor if getattr(actor, "pk", None) else None,
        **(
            {"gross_margin_percent": gross_margin_percent}
            if gross_margin_percent is not None
            else {}
        ),
    )
    _variants_write(experiment, variants)
    return experiment


@transaction.atomic
def experiment_update(
    *,
    experiment_id: int,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    variants: Sequence[VariantInput],
    audience: str = Experiment.Audience.EVERYONE,
    audience_label: Label | None = None,
    audience_tier: str = "",
    hypothesis: str = "",
    gross_margin_percent=None,
    brand_ids: list[int] | None = None,
) -> Experiment:
    """Change a draft experiment, its variants included (they are replaced). A started
    experiment is not changed: its customers were assigned under what it was."""
    experiment = _locked(experiment_id, brand_ids)
    if experiment.status != ES.DRAFT:
        raise ConflictError("Only a draft experiment can be changed.", code="experiment_not_draft")
    errors = experiment_errors(
        brand=experiment.brand,
        name=name,
        audience=audience,
        audience_label=audience_label,
        audience_tier=audience_tier,
        starts_at=starts_at,
        ends_at=ends_at,
        variants=variants,
    )
    if errors:
        raise _invalid("The experiment cannot be saved: fix the fields listed.", errors)
    experiment.name = name.strip()
    experiment.hypothesis = hypothesis
    experiment.audience = audience
    experiment.audience_label = audience_label if audience == "label" else None
    experiment.audience_tier = audience_tier.strip() if audience == "tier" else ""
    experiment.starts_at, experiment.ends_at = starts_at, ends_at
    if gross_margin_percent is not None:
        experiment.gross_margin_percent = gross_margin_percent
    experiment.save()
    experiment.variants.all().delete()
    _variants_write(experiment, variants)
    return experiment


def _variants_write(experiment: Experiment, variants: Sequence[VariantInput]) -> None:
    ExperimentVariant.objects.bulk_create(
        ExperimentVariant(
            experiment=experiment,
            name=v.name.strip(),
            promotion=v.promotion,
            weight=v.weight,
            is_control=v.is_control,
        )
        for v in variants
    )


def _locked(experiment_id: int, brand_ids: list[int] | None) -> Experiment:
    experiments = Experiment.objects.select_for_update()
    if brand_ids is not None:
        experiments = experiments.filter(brand_id__in=brand_ids)
    experiment = experiments.filter(pk=experiment_id).first()
    if experiment is None:
        raise NotFoundError("Experiment not found.", code="experiment_not_found")
    return experiment


def _recompile(promotion_ids: Sequence[int], actor) -> None:
    from promotions.services.lifecycle import promotion_record_version

    for promotion in Promotion.objects.filter(pk__in=promotion_ids).order_by("pk"):
        promotion_record_version(promotion=promotion, actor=actor)


def _variant_promotions(experiment: Experiment) -> list[ExperimentVariant]:
    return list(experiment.variants.select_related("promotion").order_by("pk"))


@transaction.atomic
def experiment_start(*, experiment_id: int, brand_ids: list[int] | None = None, actor=None):
    """Run a draft experiment: its variants' promotions are recompiled with it. Each must be
    live (active or scheduled) and in no other running experiment."""
    experiment = _locked(experiment_id, brand_ids)
    if experiment.status != ES.DRAFT:
        raise ConflictError("Only a draft experiment can be started.", code="experiment_not_draft")
    variants = _variant_promotions(experiment)
    promotions = [v.promotion for v in variants if v.promotion is not None]
    not_live = [p.name for p in promotions if p.status not in LIVE]
    if not_live:
        raise _invalid(
            "Activate or schedule the variants' promotions first.",
            {"variants": [f"{name} is not active or scheduled." for name in not_live]},
        )
    busy = ExperimentVariant.objects.filter(
        promotion__in=promotions, experiment__status=ES.RUNNING
    ).exclude(experiment=experiment)
    if busy.exists():
        raise _invalid(
            "A promotion of this experiment is already in another running experiment.",
            {"variants": ["Stop the other experiment first, or choose other promotions."]},
        )
    experiment.status = ES.RUNNING
    experiment.save(update_fields=["status", "updated_at"])
    _recompile([p.pk for p in promotions], actor)
    return experiment


def _finish(experiment: Experiment, keep: set[int], actor) -> None:
    """Stop: recompile without the experiment; pause or end the promotions not kept."""
    from promotions.services.lifecycle import promotion_set_status

    experiment.status = ES.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["status", "stopped_at", "winner", "updated_at"])
    for variant in _variant_promotions(experiment):
        promotion = variant.promotion
        if promotion is None:
            continue
        if promotion.pk in keep:
            _recompile([promotion.pk], actor)
        elif experiment.winner_id is None:
            if promotion.status in LIVE:
                promotion_set_status(promotion_id=promotion.pk, status="paused", actor=actor)
            else:
                _recompile([promotion.pk], actor)
        elif promotion.status != Promotion.Status.ENDED:
            promotion_set_status(promotion_id=promotion.pk, status="ended", actor=actor)


@transaction.atomic
def experiment_stop(*, experiment_id: int, brand_ids: list[int] | None = None, actor=None):
    """Stop a running experiment without a winner (see the module docstring)."""
    experiment = _locked(experiment_id, brand_ids)
    if experiment.status != ES.RUNNING:
        raise ConflictError(
            "Only a running experiment can be stopped.", code="experiment_not_running"
        )
    control = next(v for v in _variant_promotions(experiment) if v.is_control)
    _finish(experiment, {control.promotion_id} if control.promotion_id else set(), actor)
    return experiment


@transaction.atomic
def experiment_promote(
    *, experiment_id: int, variant_id: int, brand_ids: list[int] | None = None, actor=None
):
    """Stop the experiment and make `variant_id` the live promotion for everyone."""
    experiment = _locked(experiment_id, brand_ids)
    if experiment.status == ES.DRAFT:
        raise ConflictError(
            "A draft experiment has no results to promote.", code="experiment_not_started"
        )
    if experiment.winner_id is not None:
        raise ConflictError("A winner was already promoted.", code="experiment_has_winner")
    variant = experiment.variants.filter(pk=variant_id).first()
    if variant is None:
        raise _invalid("Choose one of the experiment's variants.", {"variant": ["Unknown."]})
    experiment.winner = variant
    if experiment.status == ES.RUNNING:
        _finish(experiment, {variant.promotion_id} if variant.promotion_id else set(), actor)
    else:
        # Already stopped: the winner's promotion goes live again, the others end.
        from promotions.services.lifecycle import promotion_set_status

        experiment.save(update_fields=["winner", "updated_at"])
        for other in _variant_promotions(experiment):
            if other.promotion is None:
                continue
            if other.pk == variant.pk:
                if other.promotion.status == Promotion.Status.PAUSED:
                    promotion_set_status(promotion_id=other.promotion_id, status="active")
            elif other.promotion.status != Promotion.Status.ENDED:
                promotion_set_status(promotion_id=other.promotion_id, status="ended")
    return experiment


def running_experiments(promotions: Sequence[dict]) -> dict[int, dict]:
    """The experiments of a bundle's compiled promotions, by id (any variant's copy)."""
    found: dict[int, dict] = {}
    for promotion in promotions:
        experiment = promotion.get("experiment")
        if experiment is not None:
            found.setdefault(experiment["id"], experiment)
    return found


def exposures_record(
    *,
    promotions: Sequence[dict],
    customer_id: int | None,
    label_ids,
    tier: str | None,
    at: datetime,
) -> int:
    """Record that the customer's basket was priced under each running experiment of
    `promotions` whose audience and dates include them, with the variant the engines assign.
    Once per customer and experiment: the cache remembers it, and the unique row refuses a
    second. Nothing without a customer (anonymous baskets get the control and are not counted).
    The cache or the database failing never fails the pricing."""
    if customer_id is None:
        return 0
    experiments = running_experiments(promotions)
    if not experiments:
        return 0
    facts = {
        "now": int(at.timestamp()),
        "customer_id": customer_id,
        "labels": set(label_ids),
        "tier": tier,
    }
    rows = []
    for experiment_id, experiment in sorted(experiments.items()):
        if not experiment_includes(experiment, **facts):
            continue
        variant = experiment_variant(experiment, **facts)
        key = f"experiment-exposed:{experiment_id}:{customer_id}"
        try:
            if not cache.add(key, 1, timeout=EXPOSED_SECONDS):
                continue
        except Exception:
            # A cache fault costs an INSERT that finds the row.
            logger.warning("Exposure cache unavailable; recording in the database only")
        rows.append(
            ExperimentExposure(
                experiment_id=experiment_id,
                variant_id=variant,
                customer_id=customer_id,
                exposed_at=at,
            )
        )
    if not rows:
        return 0
    try:
        with transaction.atomic():
            ExperimentExposure.objects.bulk_create(rows, ignore_conflicts=True)
    except DatabaseError:
        # A variant deleted under a stale bundle; the next pricing records it.
        for row in rows:
            cache.delete(f"experiment-exposed:{row.experiment_id}:{customer_id}")
        return 0
    return len(rows)
