"""Cache keys carry a prefix unique to the database, so deployments sharing one Redis never
price with each other's cached promotions, and clearing one cache leaves the others alone."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from config.settings import database_key_prefix
from core.tests.api_world import build_tenant
from core.tests.redis_server import resilient_caches
from promotions.models import Promotion
from promotions.selectors import brand_bundle, bundle_invalidate
from promotions.tests.factories import PromotionFactory


def settings_prefix(**env: str) -> str:
    """CACHE_KEY_PREFIX as config/settings.py computes it from these environment variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CACHE_KEY_PREFIX")
    }
    code = "import config.settings as s; print(s.CACHE_KEY_PREFIX)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**environment, **env},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_default_prefix_differs_per_database_and_can_be_set():
    shop = settings_prefix(DATABASE_URL="postgres://u@db:5432/shop")

    assert shop.startswith("promo-")
    assert shop == settings_prefix(DATABASE_URL="postgres://u@db:5432/shop")
    assert shop != settings_prefix(DATABASE_URL="postgres://u@db:5432/shop_eu")
    assert shop != settings_prefix(DATABASE_URL="postgres://u@db2:5432/shop")
    assert shop != settings_prefix(DATABASE_URL="postgres://u@db:5433/shop")
    assert settings_prefix(DATABASE_URL="sqlite:///a.sqlite3") != settings_prefix(
        DATABASE_URL="sqlite:///b.sqlite3"
    )
    assert settings_prefix(CACHE_KEY_PREFIX="shop-eu") == "shop-eu"


@pytest.mark.django_db
def test_two_databases_sharing_a_redis_do_not_read_each_others_bundles(settings, redis_server):
    database = dict(django_settings.DATABASES["default"])
    first = database_key_prefix(database)
    second = database_key_prefix({**database, "NAME": f"{database['NAME']}_other"})
    # Given the first database's brand bundle cached (one live promotion)
    settings.CACHES = resilient_caches(redis_server.url, prefix=first, cooldown=30)
    a = build_tenant("a")
    PromotionFactory(brand=a.brand, status="active", compiled={"id": 1})
    bundle_invalidate(brand_id=a.brand.pk)
    promotions, _ = brand_bundle(brand_id=a.brand.pk)
    assert len(promotions) == 1

    # When the other database (its brand of the same id has no promotion) uses the same Redis
    Promotion.objects.all().delete()
    settings.CACHES = resilient_caches(redis_server.url, prefix=second, cooldown=30)
    theirs, _ = brand_bundle(brand_id=a.brand.pk)

    # Then it priced with its own data, and the first one's entry is still its own
    assert theirs == []
    settings.CACHES = resilient_caches(redis_server.url, prefix=first, cooldown=30)
    assert len(brand_bundle(brand_id=a.brand.pk)[0]) == 1


def test_clearing_a_cache_deletes_its_own_prefix_only(settings, redis_server):
    settings.CACHES = resilient_caches(redis_server.url, prefix="one", cooldown=30)
    caches["default"].set("k", "mine")
    caches["default"].set("other", "mine too")
    settings.CACHES = resilient_caches(redis_server.url, prefix="two", cooldown=30)
    caches["default"].set("k", "theirs")
    redis_server.client().lpush("celery", "a queued task")

    settings.CACHES = resilient_caches(redis_server.url, prefix="one", cooldown=30)
    assert caches["default"].clear() is True

    assert caches["default"].get("k") is None
    assert caches["default"].get("other") is None
    settings.CACHES = resilient_caches(redis_server.url, prefix="two", cooldown=30)
    assert caches["default"].get("k") == "theirs"
    assert redis_server.client().llen("celery") == 1
