"""The campaign admin is scoped to the user's brands and saves through the service."""

import pytest
from django.test import Client

from brands.tests.factories import BrandFactory
from campaigns.models import CampaignProgress
from campaigns.tests.factories import make_campaign
from loyalty_management.tests.factories import LoyaltyProgramFactory

pytestmark = pytest.mark.django_db


def test_staff_see_only_the_campaigns_and_progress_of_their_brands(a, b):
    for tenant in (a, b):
        LoyaltyProgramFactory(brand=tenant.brand)
    partner = BrandFactory(slug="partner", name="Partner")
    ours = make_campaign(owner=a.brand, brands=[partner], name="Ours")
    theirs = make_campaign(owner=b.brand, brands=[partner], name="Theirs")
    for campaign in (ours, theirs):
        CampaignProgress.objects.create(campaign=campaign, customer=a.customer)
    client = Client()
    client.force_login(a.staff)

    listed = client.get("/admin/campaigns/crossbrandcampaign/").content.decode()
    progress = client.get("/admin/campaigns/campaignprogress/").content.decode()

    assert "Ours" in listed and "Theirs" not in listed
    assert "Ours" in progress and "Theirs" not in progress
    assert client.get(f"/admin/campaigns/crossbrandcampaign/{theirs.pk}/change/").status_code in (
        302,
        404,
    )
    page = client.get(f"/admin/campaigns/crossbrandcampaign/{ours.pk}/change/").content.decode()
    assert 'name="min_spend_per_brand"' in page and 'type="number"' in page
    assert f'value="{b.brand.pk}"' not in page.split('name="brands"')[1].split("</select>")[0]
