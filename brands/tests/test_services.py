"""POS device keys: created once, stored as a hash, revoked, rotated; last seen throttled."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brands.models import PosDevice
from brands.services import (
    LAST_SEEN_RESOLUTION,
    hash_device_key,
    parse_device_key,
    pos_device_authenticate,
    pos_device_create,
    pos_device_revoke,
    pos_device_rotate_key,
)
from brands.tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return StoreFactory()


def test_create_returns_the_plain_key_and_stores_only_its_hash(store):
    device, raw_key = pos_device_create(store=store, name="Till 1")

    stored = PosDevice.objects.get(pk=device.pk)
    assert parse_device_key(raw_key) == stored.key_prefix
    assert stored.key_hash == hash_device_key(raw_key)
    stored_values = [str(getattr(stored, f.attname)) for f in PosDevice._meta.concrete_fields]
    assert raw_key not in stored_values
    assert all(raw_key.split("_", 2)[2] not in value for value in stored_values)


def test_two_devices_get_different_keys(store):
    _, first = pos_device_create(store=store, name="Till 1")
    _, second = pos_device_create(store=store, name="Till 2")

    assert first != second


def test_create_with_a_given_key_uses_it(store):
    raw_key = "pos_0123456789ab_" + "x" * 43

    device, returned = pos_device_create(store=store, name="Till 1", raw_key=raw_key)

    assert returned == raw_key
    assert pos_device_authenticate(raw_key=raw_key) == device


def test_create_refuses_a_malformed_given_key(store):
    with pytest.raises(ValueError, match="format"):
        pos_device_create(store=store, name="Till 1", raw_key="not-a-key")
    assert not PosDevice.objects.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # wrong secret
        lambda key: "pos_ffffffffffff_" + key.split("_", 2)[2],  # unknown prefix
        lambda key: key.replace("pos_", "dev_", 1),  # not a device key
        lambda key: "",
    ],
)
def test_authenticate_refuses_wrong_keys(store, mangle):
    _, raw_key = pos_device_create(store=store, name="Till 1")

    assert pos_device_authenticate(raw_key=mangle(raw_key)) is None


def test_authenticate_returns_the_device_with_its_brand(store):
    device, raw_key = pos_device_create(store=store, name="Till 1")

    found = pos_device_authenticate(raw_key=raw_key)

    assert found == device
    assert found.brand == store.brand


def test_revoked_device_no_longer_authenticates(store):
    device, raw_key = pos_device_create(store=store, name="Till 1")

    pos_device_revoke(device=device)
    first_revocation = device.revoked_at
    pos_device_revoke(device=device)

    assert pos_device_authenticate(raw_key=raw_key) is None
    assert device.revoked_at == first_revocation  # revoking again keeps the first time


def test_rotate_replaces_the_key(store):
    device, old_key = pos_device_create(store=store, name="Till 1")

    new_key = pos_device_rotate_key(device=device)

    assert new_key != old_key
    assert pos_device_authenticate(raw_key=old_key) is None
    assert pos_device_authenticate(raw_key=new_key) == device
    assert PosDevice.objects.get(pk=device.pk).key_hash == hash_device_key(new_key)


def test_last_seen_is_recorded_on_first_use(store):
    device, raw_key = pos_device_create(store=store, name="Till 1")

    pos_device_authenticate(raw_key=raw_key)

    device.refresh_from_db()
    assert device.last_seen_at is not None
    assert timezone.now() - device.last_seen_at < timedelta(seconds=5)


def test_last_seen_is_written_at_most_once_per_resolution(store, django_assert_num_queries):
    # Given a device seen just now
    device, raw_key = pos_device_create(store=store, name="Till 1")
    pos_device_authenticate(raw_key=raw_key)
    seen = PosDevice.objects.get(pk=device.pk).last_seen_at

    # When it authenticates again right away, it only reads
    with django_assert_num_queries(1):
        pos_device_authenticate(raw_key=raw_key)

    # Then last_seen_at did not move
    assert PosDevice.objects.get(pk=device.pk).last_seen_at == seen


def test_last_seen_moves_once_the_resolution_has_passed(store, django_assert_num_queries):
    device, raw_key = pos_device_create(store=store, name="Till 1")
    long_ago = timezone.now() - LAST_SEEN_RESOLUTION - timedelta(seconds=1)
    PosDevice.objects.filter(pk=device.pk).update(last_seen_at=long_ago)

    with django_assert_num_queries(2):  # the read, then the one update
        pos_device_authenticate(raw_key=raw_key)

    assert PosDevice.objects.get(pk=device.pk).last_seen_at > long_ago
