import pytest

from catalog.tests.factories import ProductFactory
from core.errors import ApplicationError
from promotions.models import Promotion
from promotions.selectors import brand_bundle
from promotions.services.lifecycle import promotion_save, promotion_set_status
from promotions.tests.factories import PromotionFactory

pytestmark = pytest.mark.django_db
S = Promotion.Status


def test_a_draft_may_be_saved_invalid_but_not_activated():
    promotion = promotion_save(
        promotion=PromotionFactory.build(brand=ProductFactory().brand, params={"percent": "120"})
    )

    with pytest.raises(ApplicationError) as error:
        promotion_set_status(promotion_id=promotion.id, status=S.ACTIVE)

    assert error.value.code == "promotion_invalid"
    assert "params.percent" in error.value.fields
    promotion.refresh_from_db()
    assert promotion.status == S.DRAFT
    assert promotion.version == 1


def test_activation_records_a_new_version_and_refreshes_the_brand_bundle(
    django_capture_on_commit_callbacks,
):
    promotion = promotion_save(promotion=PromotionFactory.build(brand=ProductFactory().brand))
    assert brand_bundle(brand_id=promotion.brand_id)[0] == []

    with django_capture_on_commit_callbacks(execute=True):
        promotion_set_status(promotion_id=promotion.id, status=S.ACTIVE)

    promotion.refresh_from_db()
    assert promotion.version == 2
    assert list(promotion.versions.values_list("version", flat=True)) == [2, 1]
    bundle, bundle_hash = brand_bundle(brand_id=promotion.brand_id)
    assert [compiled["id"] for compiled in bundle] == [promotion.id]
    assert bundle[0]["status"] == "active"
    assert len(bundle_hash) == 64


def test_a_cached_bundle_is_served_without_a_query(django_assert_num_queries):
    promotion = promotion_save(
        promotion=PromotionFactory.build(brand=ProductFactory().brand, status=S.ACTIVE)
    )
    brand_bundle(brand_id=promotion.brand_id)

    with django_assert_num_queries(0):
        bundle, _ = brand_bundle(brand_id=promotion.brand_id)

    assert len(bundle) == 1


def test_ended_is_final():
    promotion = promotion_save(promotion=PromotionFactory.build(brand=ProductFactory().brand))
    promotion_set_status(promotion_id=promotion.id, status=S.ENDED)

    with pytest.raises(ApplicationError) as error:
        promotion_set_status(promotion_id=promotion.id, status=S.ACTIVE)

    assert error.value.code == "invalid_status_transition"


def test_saving_a_live_promotion_with_errors_is_refused_and_writes_nothing():
    brand = ProductFactory().brand

    with pytest.raises(ApplicationError):
        promotion_save(
            promotion=PromotionFactory.build(brand=brand, status=S.ACTIVE, params={"percent": "0"})
        )

    assert not Promotion.objects.filter(brand=brand).exists()
