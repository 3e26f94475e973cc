import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from brands.selectors import get_current_brand
from brands.tests.factories import BrandFactory, StoreFactory, make_device

pytestmark = pytest.mark.django_db


def _request(auth=None, **meta):
    request = Request(RequestFactory().get("/", **meta))
    request._authenticator = None
    request._user, request._auth = None, auth
    return request


def test_the_device_brand_wins_over_header_and_host():
    store = StoreFactory()
    other = BrandFactory(storefront_host="other.example.com")
    device, _ = make_device(store=store)

    request = _request(device, HTTP_X_BRAND=other.slug, HTTP_HOST="other.example.com")

    assert get_current_brand(request) == store.brand


def test_the_header_names_the_brand_by_slug():
    brand = BrandFactory()
    assert get_current_brand(_request(HTTP_X_BRAND=brand.slug)) == brand


def test_the_host_selects_the_brand_whose_storefront_it_is(settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    brand = BrandFactory(storefront_host="shop.example.com")
    assert get_current_brand(_request(HTTP_HOST="shop.example.com:8000")) == brand


@pytest.mark.parametrize(
    "meta",
    [{}, {"HTTP_X_BRAND": "no-such-brand"}, {"HTTP_HOST": "evil.example.com"}],
)
def test_no_brand_is_none_not_an_error(meta):
    BrandFactory(storefront_host="shop.example.com")
    assert get_current_brand(_request(**meta)) is None
