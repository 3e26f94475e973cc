"""Reads of cross-brand campaigns: a customer's progress (the API and the storefront's account
page), and staff's campaigns and per-customer progress."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from brands.models import Brand
from brands.selectors import scope_to_user_brands
from campaigns.models import CampaignProgress, CrossBrandCampaign
from campaigns.services import campaign_evaluate
from customers.models import Customer
from rewards.models import CustomerReward

# A campaign stays on the customer's page this long after it ends (to see how it went).
RECENTLY_ENDED = timedelta(days=14)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class BrandSpend:
    """What the customer spent at one participating brand, and whether it counts."""

    brand_id: int
    slug: str
    name: str
    spent: Decimal
    counts: bool
    # Each brand: what is left to spend there for it to count (0 once it counts); total: 0.
    missing: Decimal


@dataclass(frozen=True)
class CustomerCampaignProgress:
    """One campaign as a customer's account page shows it.

    Money is Decimal in the campaign's currency (`currency`); `brands` is in the campaign's
    order of brand names; `reward` is the customer's issued reward (None until completed)."""

    campaign_id: int
    name: str
    description: str
    owner: str  # the owner brand's slug
    owner_name: str
    currency: str
    starts_at: datetime
    ends_at: datetime
    is_live: bool
    requirement: str
    min_spend_per_brand: Decimal | None
    min_total_spend: Decimal | None
    min_brands: int
    reward_kind: str
    reward_description: str
    brands: list[BrandSpend]
    total_spend: Decimal
    brands_counted: int
    brands_missing: int
    amount_missing: Decimal
    is_met: bool
    completed_at: datetime | None
    reward: CustomerReward | None


def campaign_progress_for_customer(
    *, customer: Customer, brand: Brand, now: datetime | None = None
) -> list[CustomerCampaignProgress]:
    """The active campaigns `brand` takes part in that are live or ended less than
    RECENTLY_ENDED ago (newest start first), each with the customer's progress: what they spent
    per brand, what is missing, whether it is met, and the reward. Three queries, whatever the
    number of campaigns."""
    now = now or timezone.now()
    campaigns = list(
        CrossBrandCampaign.objects.filter(
            is_active=True,
            brands=brand,
            starts_at__lte=now,
            ends_at__gt=now - RECENTLY_ENDED,
        )
        .select_related("brand", "reward_template")
        .prefetch_related("brands")
        .order_by("-starts_at", "-pk")
    )
    progress_by_campaign = {
        p.campaign_id: p
        for p in CampaignProgress.objects.filter(
            customer=customer, campaign__in=[c.pk for c in campaigns]
        ).select_related("reward")
    }
    return [
        _customer_progress(campaign, progress_by_campaign.get(campaign.pk), now)
        for campaign in campaigns
    ]


def _customer_progress(
    campaign: CrossBrandCampaign, progress: CampaignProgress | None, now: datetime
) -> CustomerCampaignProgress:
    spend = {int(b): Decimal(s) for b, s in (progress.spend_by_brand if progress else {}).items()}
    evaluation = campaign_evaluate(campaign=campaign, spend_by_brand=spend)
    brands = sorted(campaign.brands.all(), key=lambda b: (b.name, b.pk))
    return CustomerCampaignProgress(
        campaign_id=campaign.pk,
        name=campaign.name,
        description=campaign.description,
        owner=campaign.brand.slug,
        owner_name=campaign.brand.name,
        currency=campaign.brand.currency,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        is_live=campaign.starts_at <= now < campaign.ends_at,
        requirement=campaign.requirement,
        min_spend_per_brand=campaign.min_spend_per_brand,
        min_total_spend=campaign.min_total_spend,
        min_brands=campaign.min_brands,
        reward_kind=campaign.reward_kind,
        reward_description=campaign.reward_description,
        brands=[
            BrandSpend(
                brand_id=b.pk,
                slug=b.slug,
                name=b.name,
                spent=evaluation.spend_by_brand.get(b.pk, ZERO),
                counts=b.pk in evaluation.counted_brand_ids,
                missing=evaluation.below_by_brand.get(b.pk, ZERO),
            )
            for b in brands
        ],
        total_spend=evaluation.total_spend,
        brands_counted=len(evaluation.counted_brand_ids),
        brands_missing=evaluation.brands_missing,
        amount_missing=evaluation.amount_missing,
        is_met=evaluation.is_met,
        completed_at=progress.completed_at if progress else None,
        reward=progress.reward if progress else None,
    )


def order_may_count(*, brand_id: int, at: datetime) -> bool:
    """Whether an order of the brand paid at `at` belongs to an active campaign (one query):
    the payment receivers enqueue its record only then."""
    return CrossBrandCampaign.objects.filter(
        is_active=True, brands=brand_id, starts_at__lte=at, ends_at__gt=at
    ).exists()


def campaigns_for_staff(*, user) -> QuerySet[CrossBrandCampaign]:
    """The campaigns whose owner brand the staff user works for."""
    queryset = (
        CrossBrandCampaign.objects.select_related("brand", "reward_template")
        .prefetch_related("brands")
        .order_by("-starts_at", "-pk")
    )
    return scope_to_user_brands(queryset, user, "brand")


def progress_for_campaign(*, campaign: CrossBrandCampaign) -> QuerySet[CampaignProgress]:
    """Per-customer progress of one campaign: completed first, then by spend."""
    return (
        CampaignProgress.objects.filter(campaign=campaign)
        .select_related("customer", "reward")
        .order_by("-is_met", "-total_spend", "pk")
    )
