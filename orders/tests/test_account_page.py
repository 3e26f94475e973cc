"""The storefront account page: a signed-in customer's points, tier, history, catalogue with
Redeem buttons, redemption requests, codes and rewards, and wallet, at the basket's brand."""

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from brands.tests.factories import BrandFactory
from campaigns.services import campaign_order_record
from campaigns.tests.factories import make_campaign
from catalog.tests.factories import ProductFactory
from customers.services import customer_create
from loyalty_management.models import (
    BadgeDefinition,
    LoyaltyTransaction,
    RedemptionItem,
    RedemptionRequest,
)
from loyalty_management.services.ledger import (
    account_get_or_create,
    account_tier_review,
    ledger_credit,
)
from loyalty_management.services.redemptions import redemption_approve, redemption_request
from loyalty_management.tests.factories import LoyaltyProgramFactory, TierFactory
from orders.models import Order
from orders.services.payment import order_set_payment_status
from orders.tests.factories import place_order
from orders.tests.test_basket_page import _Page
from orders.views import BASKET_SESSION_KEY
from rewards.models import CustomerReward, RewardKind
from rewards.services import RewardSpec, reward_issue
from wallets.services import wallet_credit

pytestmark = pytest.mark.django_db

ACCOUNT = "/account/"
PASSWORD = "pass-word-123"
Status = RedemptionRequest.Status
PAGE_QUERIES = 24


def give_points(account, points: int, key: str) -> None:
    ledger_credit(
        account_id=account.pk,
        kind=LoyaltyTransaction.Kind.BONUS,
        points=points,
        idempotency_key=key,
        reason="Welcome gift",
    )


@pytest.fixture
def shop():
    """A brand with a programme and two tiers, a customer with 100 points (Silver, 100 of the
    250 Gold needs), three catalogue items (in reach, too dear, Gold only) and a wallet."""
    brand = BrandFactory(slug="account-shop", name="Account Shop")
    program = LoyaltyProgramFactory(brand=brand)
    TierFactory(program=program, name="Silver", position=1, threshold=Decimal("0"))
    gold = TierFactory(program=program, name="Gold", position=2, threshold=Decimal("250"))
    customer = customer_create(brand=brand, email="member@example.com", password=PASSWORD)
    account = account_get_or_create(customer=customer, program=program)
    give_points(account, 100, "gift")
    account_tier_review(account_id=account.pk)
    items = {
        "voucher": RedemptionItem.objects.create(
            brand=brand,
            name="Five in your wallet",
            points_cost=60,
            kind=RedemptionItem.Kind.WALLET_CREDIT,
            wallet_amount=Decimal("5.00"),
        ),
        "mug": RedemptionItem.objects.create(
            brand=brand, name="Mug", points_cost=500, kind=RedemptionItem.Kind.PHYSICAL
        ),
        "gold": RedemptionItem.objects.create(
            brand=brand,
            name="Gold tote",
            points_cost=10,
            kind=RedemptionItem.Kind.PHYSICAL,
            minimum_tier=gold,
        ),
    }
    wallet_credit(customer=customer, brand=brand, amount=Decimal("7.50"), idempotency_key="w1")
    return {"brand": brand, "program": program, "customer": customer, "items": items}


@pytest.fixture
def member(client, shop):
    client.force_login(shop["customer"].user)
    return client


def view(client) -> _Page:
    response = client.get(ACCOUNT)
    assert response.status_code == 200
    return _Page(response.content.decode())


def redeem_form(page: _Page, item) -> dict:
    """The hidden fields of the item's Redeem form, as the browser would post them."""
    keys = [
        attrs["value"]
        for attrs in page.find("input", name="idempotency_key")
        if attrs.get("value", "").startswith("account-")
    ]
    items = [attrs["value"] for attrs in page.find("input", name="item")]
    return {"item": item.pk, "idempotency_key": keys[items.index(str(item.pk))]}


def notices(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def available(customer, program) -> int:
    return account_get_or_create(customer=customer, program=program).available_points


# --- Who sees what --------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_the_login_and_back(client):
    response = client.get(ACCOUNT)
    assert response.status_code == 302
    assert response["Location"] == "/basket/login/?next=/account/"
    response = client.post("/account/redeem/", {"item": 1, "idempotency_key": "k"})
    assert response.status_code == 302 and response["Location"].startswith("/basket/login/")


def test_signing_in_from_the_account_page_comes_back_to_it(client, shop):
    response = client.post(
        "/basket/login/",
        {"username": "member@example.com", "password": PASSWORD, "next": ACCOUNT},
    )
    assert response.status_code == 302 and response["Location"] == ACCOUNT


def test_staff_get_a_plain_sentence_and_no_customer_data(client, a):
    client.force_login(a.staff)
    page = view(client)
    assert page.text("account-refusal").startswith("This page is for customers.")
    assert "points-available" not in page.texts
    response = client.post("/account/redeem/", {"item": 1, "idempotency_key": "k"}, follow=True)
    assert notices(response)[0].startswith("This page is for customers.")


def test_a_login_without_a_customer_profile_gets_a_plain_sentence(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="someone"))
    page = view(client)
    assert page.text("account-refusal") == (
        "This login has no customer profile, so it has no points, rewards or wallet."
    )


def test_the_basket_and_the_account_link_each_other(member):
    basket = _Page(member.get("/basket/").content.decode())
    assert basket.find("a", href=ACCOUNT)
    account = view(member)
    assert account.find("a", href="/basket/")
    assert account.find("a", href=ACCOUNT, **{"aria-current": "page"})


# --- The page -------------------------------------------------------------------------------


def test_the_page_shows_points_tier_progress_catalogue_wallet_and_badges(member, shop):
    BadgeDefinition.objects.create(
        brand=shop["brand"], name="Regular", kind=BadgeDefinition.Kind.ORDER_COUNT, order_count=5
    )
    page = view(member)

    assert page.text("points-available") == "100 points"
    assert page.text("points-pending") == "0 points"
    assert page.text("tier-name") == "Silver"
    [bar] = page.find("progress", id="tier-progress-bar")
    assert (Decimal(bar["value"]), Decimal(bar["max"])) == (Decimal(100), Decimal(250))
    assert page.text("tier-progress-text") == (
        "You earned 100 of the 250 points that Gold needs in the last 12 months: 150 points to go."
    )
    # The catalogue: in reach, and the two out of reach disabled with the plain reason
    voucher, mug, gold = (shop["items"][k] for k in ("voucher", "mug", "gold"))
    buttons = {b.get("aria-describedby"): b for b in page.find("button", type="submit")}
    assert f"item-{voucher.pk}-reason" not in page.texts
    assert page.text(f"item-{mug.pk}-reason") == "You need 400 more points."
    assert page.text(f"item-{gold.pk}-reason") == "This item needs the Gold tier."
    assert "disabled" in buttons[f"item-{mug.pk}-reason"]
    assert "disabled" in buttons[f"item-{gold.pk}-reason"]
    # Wallet, history, badges to earn
    assert page.text("wallet-balance") == "7.50 EUR"
    assert "+7.50 EUR" in page.text("wallet-movements")
    assert "Welcome gift" in page.text("history") and "+100" in page.text("history")
    assert "Regular · 0 of 5" in page.text("badges-to-earn")
    assert page.text("no-redemptions") == "You have not redeemed anything yet."


def test_every_redeem_form_carries_its_own_one_time_key(member, shop):
    first, second = view(member), view(member)
    keys = [a["value"] for a in first.find("input", name="idempotency_key")]
    assert len(keys) == len(set(keys)) == 3
    assert not set(keys) & {a["value"] for a in second.find("input", name="idempotency_key")}


def test_codes_and_rewards_show_what_they_give_and_whether_they_can_be_used(member, shop):
    brand, customer = shop["brand"], shop["customer"]
    tea = ProductFactory(brand=brand, name="Green tea")

    def issue(key, **spec):
        return reward_issue(
            customer=customer,
            brand=brand,
            spec=RewardSpec(**spec),
            idempotency_key=key,
            source=CustomerReward.Source.STAFF,
        )[0]

    off = issue("r1", name="Five off", kind=RewardKind.DISCOUNT_AMOUNT, amount=Decimal("5.00"))
    tea_code = issue("r2", name="Free tea", kind=RewardKind.FREE_PRODUCT, product_id=tea.pk)
    old = issue(
        "r3",
        name="Ten percent",
        kind=RewardKind.DISCOUNT_PERCENTAGE,
        percentage=Decimal("10"),
        minimum_order=Decimal("20.00"),
    )
    CustomerReward.objects.filter(pk=old.pk).update(valid_until=timezone.now() - timedelta(days=1))
    issue("r4", name="Birthday points", kind=RewardKind.POINTS, points=50)
    # Another customer's code never shows
    other = customer_create(brand=brand, email="other@example.com")
    reward_issue(
        customer=other,
        brand=brand,
        spec=RewardSpec(name="Not yours", kind=RewardKind.DISCOUNT_AMOUNT, amount=Decimal("1")),
        idempotency_key="r5",
        source=CustomerReward.Source.STAFF,
    )

    page = view(member)

    text = page.text("rewards")
    assert page.text(f"reward-code-{off.pk}") == off.code
    assert page.find("code", id=f"reward-code-{off.pk}", **{"class": "code-box__code"})
    assert "5.00 EUR off an order." in page.text(f"reward-{off.pk}")
    assert "Ready to use · valid until" in page.text(f"reward-{off.pk}")
    assert "One Green tea free." in page.text(f"reward-{tea_code.pk}")
    assert "10% off an order on orders of at least 20.00 EUR." in page.text(f"reward-{old.pk}")
    assert "Expired · expired on" in page.text(f"reward-{old.pk}")
    assert "50 points, added to your balance." in text
    assert "Not yours" not in text
    assert page.text("points-available") == "150 points"


# --- Redeem ---------------------------------------------------------------------------------


def test_redeem_spends_the_points_once_even_when_the_form_is_sent_twice(member, shop):
    customer, program, voucher = shop["customer"], shop["program"], shop["items"]["voucher"]
    form = redeem_form(view(member), voucher)

    response = member.post("/account/redeem/", form, follow=True)

    assert response.redirect_chain == [(ACCOUNT, 302)]
    assert notices(response) == [
        "You redeemed 60 points for Five in your wallet. It is approved and done."
    ]
    assert available(customer, program) == 40
    page = _Page(response.content.decode())
    assert page.text("points-available") == "40 points"
    [redemption] = RedemptionRequest.objects.filter(customer=customer)
    assert "Five in your wallet 60 points" in page.text(f"redemption-{redemption.pk}")
    assert "Fulfilled" in page.text(f"redemption-{redemption.pk}")
    assert page.text("wallet-balance") == "12.50 EUR"

    # A double click: the same key again makes no second request
    response = member.post("/account/redeem/", form, follow=True)
    assert notices(response) == [
        "You had already sent this request for Five in your wallet; it was made once."
    ]
    assert RedemptionRequest.objects.filter(customer=customer).count() == 1
    assert available(customer, program) == 40


def test_a_redeemed_discount_code_is_shown_on_its_request(member, shop):
    customer = shop["customer"]
    coupon = RedemptionItem.objects.create(
        brand=shop["brand"],
        name="Three off",
        points_cost=30,
        kind=RedemptionItem.Kind.DISCOUNT_AMOUNT,
        discount_amount=Decimal("3.00"),
        code_valid_days=30,
    )

    response = member.post("/account/redeem/", redeem_form(view(member), coupon), follow=True)

    [redemption] = RedemptionRequest.objects.filter(customer=customer, item=coupon)
    assert redemption.reward.code
    page = _Page(response.content.decode())
    assert f"Your code: {redemption.reward.code}" in page.text(f"redemption-{redemption.pk}")


@pytest.mark.parametrize(
    ("item_key", "sentence"),
    [
        ("mug", "Nothing was redeemed. You need 400 more points."),
        ("gold", "Nothing was redeemed. This item needs the Gold tier."),
    ],
)
def test_an_item_out_of_reach_is_refused_in_a_plain_sentence(member, shop, item_key, sentence):
    item = shop["items"][item_key]
    response = member.post(
        "/account/redeem/", {"item": item.pk, "idempotency_key": "account-x"}, follow=True
    )
    assert notices(response) == [sentence]
    assert not RedemptionRequest.objects.exists()
    assert available(shop["customer"], shop["program"]) == 100


def test_refusals_never_show_a_code_or_an_api_word(member, shop, b):
    voucher = shop["items"]["voucher"]
    member.post(
        "/account/redeem/", {"item": voucher.pk, "idempotency_key": "account-1"}, follow=True
    )
    cases = [
        # the key used for another item: the page was out of date
        ({"item": shop["items"]["mug"].pk, "idempotency_key": "account-1"}, "out of date"),
        # another brand's item, an unknown item
        (
            {
                "item": RedemptionItem.objects.create(
                    brand=b.brand, name="B", points_cost=1, kind="physical"
                ).pk,
                "idempotency_key": "account-2",
            },
            "not in the catalogue any more",
        ),
        ({"item": 999999, "idempotency_key": "account-3"}, "not in the catalogue any more"),
        # tampered or missing fields
        ({"item": "abc", "idempotency_key": "account-4"}, "out of date"),
        ({"item": voucher.pk, "idempotency_key": "with space"}, "out of date"),
        ({"item": voucher.pk, "idempotency_key": "k" * 129}, "out of date"),
        ({"item": voucher.pk}, "out of date"),
        ({"item": -1, "idempotency_key": "account-5"}, "out of date"),
        ({"item": 2**40, "idempotency_key": "account-6"}, "out of date"),
    ]
    for data, words in cases:
        response = member.post("/account/redeem/", data, follow=True)
        assert response.status_code == 200
        [message] = notices(response)
        assert words in message, (data, message)
        assert not re.search(r"[a-z]+_[a-z]+|Idempotency|X-Brand", message), message
    assert RedemptionRequest.objects.count() == 1


def test_redeeming_where_the_brand_has_no_programme_is_refused(client, b):
    client.force_login(b.customer.user)
    item = RedemptionItem.objects.create(brand=b.brand, name="B", points_cost=1, kind="physical")
    page = view(client)
    assert (
        page.text("no-programme")
        == "Brand B has no loyalty programme, so there are no points to show."
    )
    response = client.post(
        "/account/redeem/", {"item": item.pk, "idempotency_key": "account-1"}, follow=True
    )
    assert notices(response) == [
        "Nothing was redeemed. This shop has no loyalty programme, so points cannot be spent here."
    ]


# --- Cancel ---------------------------------------------------------------------------------


@pytest.fixture
def waiting(shop):
    """A physical item waiting for approval: 30 points held."""
    item = RedemptionItem.objects.create(
        brand=shop["brand"],
        name="Tote bag",
        points_cost=30,
        kind=RedemptionItem.Kind.PHYSICAL,
        auto_approve=False,
    )
    redemption, _ = redemption_request(
        customer=shop["customer"], brand=shop["brand"], item_id=item.pk
    )
    return redemption


def test_cancel_gives_the_points_back_once(member, shop, waiting):
    page = view(member)
    assert "Waiting for approval" in page.text(f"redemption-{waiting.pk}")
    url = f"/account/redemptions/{waiting.pk}/cancel/"
    assert page.find("form", action=url)
    assert page.text("points-available") == "70 points"

    response = member.post(url, follow=True)

    assert notices(response) == [
        "You cancelled your request for Tote bag; 30 points went back to your balance."
    ]
    page = _Page(response.content.decode())
    assert page.text("points-available") == "100 points"
    assert "Cancelled" in page.text(f"redemption-{waiting.pk}")
    assert not page.find("form", action=url)
    response = member.post(url, follow=True)
    assert notices(response) == ["Your request for Tote bag was already cancelled."]
    assert available(shop["customer"], shop["program"]) == 100


def test_an_approved_request_cannot_be_cancelled(member, shop, waiting):
    redemption_approve(request_id=waiting.pk, actor=None)
    response = member.post(f"/account/redemptions/{waiting.pk}/cancel/", follow=True)
    assert notices(response) == ["This request is already approved."]
    waiting.refresh_from_db()
    assert waiting.status == Status.APPROVED


def test_another_customers_request_cannot_be_cancelled(client, shop, waiting):
    intruder = customer_create(brand=shop["brand"], email="intruder@example.com", password=PASSWORD)
    client.force_login(intruder.user)
    response = client.post(f"/account/redemptions/{waiting.pk}/cancel/", follow=True)
    assert notices(response) == ["We could not find that request."]
    waiting.refresh_from_db()
    assert waiting.status == Status.REQUESTED
    assert available(shop["customer"], shop["program"]) == 70
    assert client.post("/account/redemptions/999999/cancel/").status_code == 302
    assert client.get("/account/redemptions/1/cancel/").status_code == 405


# --- Brand and paging -----------------------------------------------------------------------


def test_the_page_follows_the_basket_brand(member, shop, b):
    other = LoyaltyProgramFactory(brand=b.brand)
    give_points(account_get_or_create(customer=shop["customer"], program=other), 7, "b")
    session = member.session
    session[BASKET_SESSION_KEY] = {"brand_id": b.brand.pk, "lines": [], "codes": []}
    session.save()
    reward_issue(
        customer=shop["customer"],
        brand=b.brand,
        spec=RewardSpec(name="B's code", kind=RewardKind.DISCOUNT_AMOUNT, amount=Decimal("2")),
        idempotency_key="rb",
        source=CustomerReward.Source.STAFF,
    )
    reward_issue(
        customer=shop["customer"],
        brand=shop["brand"],
        spec=RewardSpec(name="A's code", kind=RewardKind.DISCOUNT_AMOUNT, amount=Decimal("2")),
        idempotency_key="ra",
        source=CustomerReward.Source.STAFF,
    )
    page = view(member)
    assert "B's code" in page.text("rewards") and "A's code" not in page.text("rewards")
    assert page.text("points-available") == "7 points"
    assert "Your account at Brand B" in page.text("main")
    assert "Five in your wallet" not in page.text("main")
    assert page.text("no-wallet") == "Your wallet is empty."


def test_history_is_paginated_newest_first(member, shop):
    account = account_get_or_create(customer=shop["customer"], program=shop["program"])
    for n in range(1, 15):
        give_points(account, n, f"more-{n}")
    first = view(member)
    assert first.text("history-page") == "Page 1 of 2"
    assert first.text("history").count("Bonus") == 10
    assert "+14" in first.text("history")
    second = _Page(member.get(f"{ACCOUNT}?page=2").content.decode())
    assert second.text("history-page") == "Page 2 of 2"
    assert "+100" in second.text("history")
    assert member.get(f"{ACCOUNT}?page=zzz").status_code == 200
    assert member.get(f"{ACCOUNT}?page=99999999999999999999").status_code == 200


def test_campaign_progress_says_what_is_missing_and_the_reward_once_completed(member, shop, a):
    campaign = make_campaign(
        owner=shop["brand"], brands=[a.brand], name="Across the group", reward_points=50
    )
    page = view(member)
    row = page.text(f"campaign-{campaign.pk}")
    assert "Spend at least 20.00 EUR at each of 2 of these brands" in row
    assert "to get 50 points" in row
    missing = page.text(f"campaign-{campaign.pk}-missing")
    assert missing == "2 more brands to go, 40.00 EUR more to spend."

    for tenant_brand in (shop["brand"], a.brand):
        product = ProductFactory(brand=tenant_brand, price=Decimal("25.00"))
        order = place_order(
            brand=tenant_brand, products_and_quantities=[(product, 1)], customer=shop["customer"]
        )
        order_set_payment_status(order_id=order.pk, to_status=Order.PaymentStatus.PAID)
        campaign_order_record(order_id=order.pk)

    row = view(member).text(f"campaign-{campaign.pk}")
    assert "Completed" in row and "Your reward: 50 points" in row
    assert f"{a.brand.name}: 25.00 EUR (counts)" in row


def test_the_page_reads_a_fixed_number_of_queries(
    member, shop, waiting, django_assert_max_num_queries
):
    """The query count does not grow with history, requests, rewards or wallet movements."""
    # session, user, customer, brand (4); programme and summary with badges (9); history
    # count and page (2); catalogue (4); requests, rewards, wallet, wallet movements (4);
    # campaigns (1 when the brand takes part in none)
    view(member)
    with django_assert_max_num_queries(PAGE_QUERIES) as few:
        view(member)
    account = account_get_or_create(customer=shop["customer"], program=shop["program"])
    give_points(account, 20 * 30, "q")
    for n in range(20):
        give_points(account, 1, f"q-{n}")
        wallet_credit(
            customer=shop["customer"],
            brand=shop["brand"],
            amount=Decimal("1"),
            idempotency_key=f"qw{n}",
        )
        reward_issue(
            customer=shop["customer"],
            brand=shop["brand"],
            spec=RewardSpec(name=f"R{n}", kind=RewardKind.DISCOUNT_AMOUNT, amount=Decimal("1")),
            idempotency_key=f"qr{n}",
            source=CustomerReward.Source.STAFF,
        )
        redemption_request(customer=shop["customer"], brand=shop["brand"], item_id=waiting.item_id)
    with django_assert_max_num_queries(len(few.captured_queries)):
        view(member)


# --- Concurrency ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_form_sent_eight_times_at_once_makes_one_request_and_spends_once(shop):
    """Eight submits of one Redeem form race on PostgreSQL (a frantic double click, a browser
    retrying): one request, its points spent once, and the other seven told so."""
    customer, program, voucher = shop["customer"], shop["program"], shop["items"]["voucher"]
    # Enough points for every submit to succeed, were they not one request
    give_points(account_get_or_create(customer=customer, program=program), 900, "race")
    form = {"item": voucher.pk, "idempotency_key": "account-race"}
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    said: list[str] = []
    failures: list[BaseException] = []

    def submit():
        try:
            browser = Client()
            browser.force_login(customer.user)
            barrier.wait()
            response = browser.post("/account/redeem/", form, follow=True)
            # From the page itself: the test client's captured context mixes threads.
            said.extend(re.findall(r"</span>(You [^<]+)</p>", response.content.decode()))
        except BaseException as error:  # collected and asserted below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert RedemptionRequest.objects.filter(customer=customer).count() == 1
    assert available(customer, program) == 940
    assert (
        said.count("You redeemed 60 points for Five in your wallet. It is approved and done.") == 1
    )
    assert (
        said.count("You had already sent this request for Five in your wallet; it was made once.")
        == threads_count - 1
    )


def test_one_point_is_said_in_the_singular(member, shop):
    pin = RedemptionItem.objects.create(
        brand=shop["brand"], name="Pin", points_cost=1, kind=RedemptionItem.Kind.PHYSICAL
    )
    page = view(member)
    assert "1 point for" not in page.text(f"item-{pin.pk}")
    assert page.text(f"item-{pin.pk}").startswith("Pin 1 point Redeem")
    response = member.post("/account/redeem/", redeem_form(page, pin), follow=True)
    assert notices(response) == [
        "You redeemed 1 point for Pin. It is approved and will be sent to you."
    ]


def test_redeeming_counts_under_the_api_redemption_limit(member, shop, settings):
    """The page and `POST /api/v1/loyalty/me/redemptions/` share one limit per customer."""
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "redemptions": "2/minute"}
    pin = RedemptionItem.objects.create(
        brand=shop["brand"], name="Pin", points_cost=1, kind=RedemptionItem.Kind.PHYSICAL
    )
    api = APIClient()
    api.force_authenticate(shop["customer"].user)
    created = api.post(
        "/api/v1/loyalty/me/redemptions/", {"item": pin.pk}, HTTP_X_BRAND=shop["brand"].slug
    )
    assert created.status_code == 201
    data = {"item": pin.pk, "idempotency_key": "account-1"}
    assert notices(member.post("/account/redeem/", data, follow=True))[0].startswith(
        "You redeemed 1 point for Pin."
    )

    response = member.post(
        "/account/redeem/", {**data, "idempotency_key": "account-2"}, follow=True
    )

    [message] = notices(response)
    assert re.fullmatch(
        r"Nothing was redeemed: you made many requests in a short time\. "
        r"Please try again in \d+ seconds\.",
        message,
    )
    assert RedemptionRequest.objects.filter(item=pin).count() == 2
