"""The storefront account page: a signed-in customer's points, tier, badges, history, the
points catalogue with a Redeem button per item, their redemption requests, codes and rewards,
and wallet, at the brand the basket is at (`orders.views._shopper` picks it, so the account
page and the basket always speak of the same brand).

Every figure comes from the selectors the customer API calls (`loyalty_management.selectors`,
`wallets.selectors`, `rewards.selectors`); redeeming and cancelling go through
`redemption_request` and `redemption_cancel`. Every view parses one form, calls one service or
the selectors, and renders. Staff have no account: they get a plain sentence sending them to
the admin, where a customer's loyalty is shown.
"""

import math
import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from brands.models import Brand
from campaigns.selectors import campaign_progress_for_customer
from core.api.throttling import ClientRateThrottle
from core.errors import ApplicationError
from customers.models import Customer
from loyalty_management import selectors as loyalty
from loyalty_management.models import RedemptionRequest
from loyalty_management.services.redemptions import redemption_cancel, redemption_request
from orders.account_forms import RedeemForm
from orders.views import SessionBasket, _shopper
from rewards import selectors as rewards
from wallets import selectors as wallets

LOGIN_URL = reverse_lazy("basket:login")
HISTORY_PAGE_SIZE = 10
REQUESTS_SHOWN = 20
REWARDS_SHOWN = 30
WALLET_ROWS_SHOWN = 5

STAFF_REFUSAL = (
    "This page is for customers. As staff, you find a customer's points, rewards and wallet "
    "in the admin."
)
# Redeeming from the page counts under the same limit per customer as the API's redemptions.
REDEEM_THROTTLE_SCOPE = "redemptions"
OUT_OF_DATE = "This page was out of date. Please look at it again and retry."

# The services' refusals by code, as sentences for this page. Codes not listed here carry a
# message already written for customers (for example "You need 40 more points.").
REDEEM_SENTENCES = {
    "not_found": "This item is not in the catalogue any more.",
    "no_loyalty_program": "This shop has no loyalty programme, so points cannot be spent here.",
    "idempotency_key_reused": OUT_OF_DATE,
    "out_of_stock": "This item is out of stock.",
}
CANCEL_SENTENCES = {
    "not_found": "We could not find that request.",
}
STATUS_SENTENCES = {
    RedemptionRequest.Status.REQUESTED: "It is waiting for approval; you can cancel it until then.",
    RedemptionRequest.Status.APPROVED: "It is approved and will be sent to you.",
    RedemptionRequest.Status.FULFILLED: "It is approved and done.",
}


@dataclass(frozen=True)
class Member:
    """Whose account the page shows, at which brand; or why there is none."""

    brand: Brand | None
    customer: Customer | None
    refusal: str


def _member(request: HttpRequest) -> Member:
    """The signed-in customer at the basket's brand (the basket's own choice of brand)."""
    basket = SessionBasket.load(request.session)
    shopper = _shopper(request, basket)
    basket.save(request.session)
    if shopper.is_staff:
        return Member(brand=None, customer=None, refusal=STAFF_REFUSAL)
    if shopper.customer is None:
        refusal = "This login has no customer profile, so it has no points, rewards or wallet."
        return Member(brand=None, customer=None, refusal=refusal)
    if shopper.brand is None:
        return Member(brand=None, customer=None, refusal="There is no shop to show an account at.")
    return Member(brand=shopper.brand, customer=shopper.customer, refusal="")


def _back() -> HttpResponse:
    return redirect("account:account")


def _points(count: int) -> str:
    return f"{count} point" if count == 1 else f"{count} points"


def _sentence(error: ApplicationError, sentences: dict[str, str]) -> str:
    return sentences.get(error.code, error.message)


def _tier_progress(summary) -> dict | None:
    """The progress bar's figures: where the customer is and what the next tier needs."""
    if summary is None or summary.next_tier is None:
        return None
    return {
        "value": min(summary.qualification, summary.next_tier.threshold),
        "max": summary.next_tier.threshold,
        "by_spend": summary.program.tier_basis == summary.program.TierBasis.SPEND,
    }


@never_cache
@require_GET
@login_required(login_url=LOGIN_URL)
def account_page(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    if member.refusal:
        return render(request, "orders/account.html", {"member": member})
    customer, brand = member.customer, member.brand
    program = loyalty.program_for_brand(brand_id=brand.pk)
    summary = loyalty.account_summary(customer=customer, program=program) if program else None
    history = Paginator(
        loyalty.transactions_for_customer(customer=customer, brand_id=brand.pk),
        HISTORY_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    catalogue = [
        {"entry": entry, "key": f"account-{uuid.uuid4().hex}"}
        for entry in loyalty.catalogue_for_customer(customer=customer, brand_id=brand.pk)
    ]
    requests = loyalty.redemption_requests_for_customer(
        customer=customer, brand_id=brand.pk
    ).order_by("-created_at", "-id")[:REQUESTS_SHOWN]
    now = timezone.now()
    held = [
        {"reward": reward, "status": rewards.reward_status_now(reward=reward, now=now)}
        for reward in rewards.rewards_for_customer(customer=customer, brand_id=brand.pk)[
            :REWARDS_SHOWN
        ]
    ]
    wallet = wallets.wallets_for_customer(customer=customer, brand_id=brand.pk).first()
    movements = (
        wallets.transactions_for_customer(customer=customer, brand_id=brand.pk)[:WALLET_ROWS_SHOWN]
        if wallet is not None
        else []
    )
    context = {
        "member": member,
        "brand": brand,
        "currency": brand.currency,
        "summary": summary,
        "progress": _tier_progress(summary),
        "history": history,
        "catalogue": catalogue,
        "requests": list(requests),
        "rewards": held,
        "wallet": wallet,
        "movements": list(movements),
        "requested": RedemptionRequest.Status.REQUESTED,
        "campaigns": campaign_progress_for_customer(customer=customer, brand=brand, now=now),
    }
    return render(request, "orders/account.html", context)


@never_cache
@require_POST
@login_required(login_url=LOGIN_URL)
def account_redeem(request: HttpRequest) -> HttpResponse:
    """Spend points on a catalogue item. The form's one-time key is the request's idempotency
    key: a double click or a resubmitted form makes one request, and says so."""
    member = _member(request)
    if member.refusal:
        messages.error(request, member.refusal)
        return _back()
    form = RedeemForm(request.POST)
    if not form.is_valid():
        messages.error(request, OUT_OF_DATE)
        return _back()
    throttle = ClientRateThrottle(scope=REDEEM_THROTTLE_SCOPE)
    if not throttle.allow_request(request, None):
        messages.error(
            request,
            "Nothing was redeemed: you made many requests in a short time. "
            f"Please try again in {math.ceil(throttle.wait())} seconds.",
        )
        return _back()
    try:
        redemption, created = redemption_request(
            customer=member.customer,
            brand=member.brand,
            item_id=form.cleaned_data["item"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ApplicationError as error:
        messages.error(
            request, f"Nothing was redeemed. {_sentence(error, REDEEM_SENTENCES)}".strip()
        )
        return _back()
    status = STATUS_SENTENCES.get(redemption.status, "")
    if created:
        messages.success(
            request,
            f"You redeemed {_points(redemption.points)} for {redemption.item.name}. {status}",
        )
    else:
        messages.info(
            request,
            f"You had already sent this request for {redemption.item.name}; it was made once.",
        )
    return _back()


@never_cache
@require_POST
@login_required(login_url=LOGIN_URL)
def account_redemption_cancel(request: HttpRequest, redemption_id: int) -> HttpResponse:
    """Withdraw a request still waiting for approval; its points come back. Cancelling it
    again changes nothing."""
    member = _member(request)
    if member.refusal:
        messages.error(request, member.refusal)
        return _back()
    try:
        redemption, cancelled = redemption_cancel(
            request_id=redemption_id, customer=member.customer
        )
    except ApplicationError as error:
        messages.error(request, _sentence(error, CANCEL_SENTENCES))
        return _back()
    if cancelled:
        messages.success(
            request,
            f"You cancelled your request for {redemption.item.name}; "
            f"{_points(redemption.points)} went back to your balance.",
        )
    else:
        messages.info(request, f"Your request for {redemption.item.name} was already cancelled.")
    return _back()
