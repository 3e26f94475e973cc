"""The campaign API: customers' progress, staff's campaigns and per-customer progress."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brands.roles import ANALYST, BRAND_ADMIN, MARKETING_MANAGER, STORE_MANAGER
from brands.tests.factories import BrandFactory
from campaigns.models import CrossBrandCampaign
from campaigns.services import campaign_order_record
from campaigns.tests.factories import make_campaign, paid_order
from core.tests.api_world import assert_error, staff_user, token_client
from loyalty_management.tests.factories import LoyaltyProgramFactory
from rewards.models import RewardTemplate

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def campaign(a, b):
    LoyaltyProgramFactory(brand=a.brand)
    return make_campaign(owner=a.brand, brands=[b.brand], description="Two brands, 20 each.")


def _customer(a, brand_slug: str | None):
    client = token_client(a.customer.user)
    if brand_slug:
        client.credentials(
            HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_X_BRAND=brand_slug
        )
    return client


# --- customers ---------------------------------------------------------------------------------


def test_a_customer_sees_their_progress_at_every_participating_brand(a, b, campaign):
    campaign_order_record(order_id=paid_order(tenant=b, customer=a.customer, quantity=1).pk)

    for slug in ("brand-a", "brand-b"):
        response = _customer(a, slug).get("/api/v1/campaigns/me/")
        assert response.status_code == 200, response.content
        [entry] = response.json()
        assert entry["id"] == campaign.pk and entry["brand"] == "brand-a"
        assert entry["brands"] == [
            {
                "brand": "brand-a",
                "name": "Brand A",
                "spent": "0.00",
                "counts": False,
                "missing": "20.00",
            },
            {
                "brand": "brand-b",
                "name": "Brand B",
                "spent": "12.50",
                "counts": False,
                "missing": "7.50",
            },
        ]
        assert (entry["brands_missing"], entry["amount_missing"]) == (2, "27.50")
        assert (entry["is_met"], entry["reward"], entry["reward_description"]) == (
            False,
            None,
            "50 points",
        )

    # A brand that does not take part shows nothing; no brand is a clear 400.
    BrandFactory(slug="elsewhere")
    assert _customer(a, "elsewhere").get("/api/v1/campaigns/me/").json() == []
    assert_error(_customer(a, None).get("/api/v1/campaigns/me/"), 400, "brand_required")


def test_a_completed_campaign_shows_its_reward(a, b, campaign):
    for tenant in (a, b):
        campaign_order_record(order_id=paid_order(tenant=tenant, customer=a.customer).pk)
    [entry] = _customer(a, "brand-b").get("/api/v1/campaigns/me/").json()
    assert entry["is_met"] and entry["completed_at"]
    assert (entry["reward"]["kind"], entry["reward"]["points"]) == ("points", 50)
    assert (entry["brands_missing"], entry["amount_missing"]) == (0, "0.00")


def test_ended_campaigns_stay_two_weeks_and_future_ones_are_not_shown(a, b, campaign):
    now = timezone.now()
    CrossBrandCampaign.objects.filter(pk=campaign.pk).update(
        starts_at=now - timedelta(days=40), ends_at=now - timedelta(days=13)
    )
    [entry] = _customer(a, "brand-a").get("/api/v1/campaigns/me/").json()
    assert entry["is_live"] is False
    CrossBrandCampaign.objects.filter(pk=campaign.pk).update(ends_at=now - timedelta(days=15))
    assert _customer(a, "brand-a").get("/api/v1/campaigns/me/").json() == []
    CrossBrandCampaign.objects.filter(pk=campaign.pk).update(
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=5)
    )
    assert _customer(a, "brand-a").get("/api/v1/campaigns/me/").json() == []


def test_the_customer_list_costs_the_same_queries_for_one_campaign_or_five(a, b, campaign):
    client = _customer(a, "brand-a")
    client.get("/api/v1/campaigns/me/")
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/campaigns/me/")
    for index in range(4):
        make_campaign(owner=a.brand, brands=[b.brand], name=f"Campaign {index}")
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/v1/campaigns/me/").json()) == 5
    assert len(five) == len(one)


# --- staff -------------------------------------------------------------------------------------


def _body(**changes):
    now = timezone.now()
    return {
        "brand": "brand-a",
        "name": "Summer across",
        "brands": ["brand-a", "brand-b"],
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "requirement": "total",
        "min_total_spend": "100.00",
        "min_brands": 2,
        "reward_kind": "wallet_credit",
        "reward_amount": "10.00",
    } | changes


def test_staff_create_list_and_change_campaigns_of_their_brands(a, b):
    admin = staff_user("both", role=BRAND_ADMIN, brands=[a.brand, b.brand])
    client = token_client(admin)

    created = client.post("/api/v1/campaigns/", _body(), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["brands"], body["min_total_spend"], body["reward_amount"]) == (
        ["brand-a", "brand-b"],
        "100.00",
        "10.00",
    )
    assert body["min_spend_per_brand"] is None and body["currency"] == "EUR"

    changed = client.patch(
        f"/api/v1/campaigns/{body['id']}/",
        {"requirement": "each_brand", "min_spend_per_brand": "30.00", "min_total_spend": "5.00"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["min_spend_per_brand"], changed.json()["min_total_spend"]) == (
        "30.00",
        None,
    )
    assert [row["id"] for row in client.get("/api/v1/campaigns/").json()["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"brands": ["brand-a"]}, "brands", "invalid_campaign"),
        ({"brands": ["brand-a", "nowhere"]}, "brands", "unknown_brand"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at", "validation_error"),
        ({"min_brands": 3}, "min_brands", "invalid_campaign"),
        (
            {"reward_kind": "template", "reward_template": 999_999},
            "reward_template",
            "unknown_reward",
        ),
        ({"reward_amount": None}, None, None),
    ],
)
def test_bad_campaigns_are_refused_plainly_and_store_nothing(a, b, changes, field, code):
    client = token_client(staff_user("both", role=BRAND_ADMIN, brands=[a.brand, b.brand]))
    response = client.post("/api/v1/campaigns/", _body(**changes), format="json")
    body = assert_error(response, 400, code)
    if field:
        assert field in body["fields"], body
    assert not CrossBrandCampaign.objects.exists()


def test_a_brand_of_another_currency_or_not_yours_is_refused(a, b):
    BrandFactory(slug="dollar", name="Dollar", currency="USD")
    only_a = token_client(a.staff)  # brand A's admin
    body = assert_error(
        only_a.post("/api/v1/campaigns/", _body(), format="json"), 400, "unknown_brand"
    )
    assert body["message"] == "Unknown brand 'brand-b', or not one of yours."
    admin = staff_user("three", role=BRAND_ADMIN, brands=[a.brand, b.brand])
    from brands.models import Brand

    Brand.objects.get(slug="dollar").staff.add(admin)
    body = assert_error(
        token_client(admin).post(
            "/api/v1/campaigns/", _body(brands=["brand-b", "dollar"]), format="json"
        ),
        400,
        "invalid_campaign",
    )
    assert (
        body["message"] == "All the brands of a campaign use one currency: Dollar does not use EUR."
    )


def test_a_reward_template_of_the_owner_brand(a, b):
    coffee = RewardTemplate.objects.create(
        brand=a.brand, name="Coffee", kind="discount_amount", amount=D("3.00")
    )
    theirs = RewardTemplate.objects.create(
        brand=b.brand, name="Tea", kind="discount_amount", amount=D("3.00")
    )
    client = token_client(staff_user("both", role=BRAND_ADMIN, brands=[a.brand, b.brand]))
    refused = client.post(
        "/api/v1/campaigns/",
        _body(reward_kind="template", reward_template=theirs.pk, reward_amount=None),
        format="json",
    )
    assert_error(refused, 400, "unknown_reward")
    created = client.post(
        "/api/v1/campaigns/",
        _body(reward_kind="template", reward_template=coffee.pk),
        format="json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["reward_template"], created.json()["reward_amount"]) == (coffee.pk, None)


def test_progress_per_customer_masks_email_by_role(a, b, campaign):
    for tenant in (a, b):
        campaign_order_record(order_id=paid_order(tenant=tenant, customer=a.customer).pk)
    campaign_order_record(order_id=paid_order(tenant=a, customer=b.customer, quantity=1).pk)
    url = f"/api/v1/campaigns/{campaign.pk}/progress/"

    rows = token_client(a.staff).get(url).json()["results"]
    assert [(r["customer"], r["is_met"], r["total_spend"]) for r in rows] == [
        (a.customer.pk, True, "50.00"),
        (b.customer.pk, False, "12.50"),
    ]
    assert rows[0]["customer_email"] == a.customer.email
    assert rows[0]["spend_by_brand"] == {str(a.brand.pk): "25.00", str(b.brand.pk): "25.00"}
    assert rows[0]["reward_name"] == "50 points"

    marketing = token_client(staff_user("mm", role=MARKETING_MANAGER, brands=[a.brand]))
    masked = marketing.get(url).json()["results"][0]["customer_email"]
    assert masked != a.customer.email and "***" in masked
    analyst = token_client(staff_user("an", role=ANALYST, brands=[a.brand]))
    assert analyst.get(url).status_code == 200
    store = token_client(staff_user("sm", role=STORE_MANAGER, brands=[a.brand]))
    assert_error(store.get(url), 403)
    # Brand B's staff do not see brand A's campaign, which it takes part in: the owner runs it.
    assert_error(token_client(b.staff).get(url), 404, "campaign_not_found")
    assert token_client(b.staff).get("/api/v1/campaigns/").json()["count"] == 0
