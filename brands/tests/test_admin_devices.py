"""POS devices in the admin: the key is shown once, only its hash is stored."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.urls import reverse

from brands.models import PosDevice
from brands.roles import BRAND_ADMIN
from brands.services import hash_device_key, pos_device_authenticate
from brands.tests.factories import BrandFactory, StaffUserFactory, StoreFactory, make_device

pytestmark = pytest.mark.django_db

KEY_PATTERN = re.compile(r"pos_[0-9a-f]{12}_[A-Za-z0-9_\-]+")


@pytest.fixture
def store():
    return StoreFactory(brand=BrandFactory(slug="brand-a"), code="main")


@pytest.fixture
def staff(store):
    user = StaffUserFactory(username="staff-a")
    user.groups.add(Group.objects.get(name=BRAND_ADMIN))
    store.brand.staff.add(user)
    return user


def _keys_in(response) -> list[str]:
    return KEY_PATTERN.findall(response.content.decode())


def test_adding_a_device_shows_its_key_once_and_stores_only_the_hash(client, staff, store):
    client.force_login(staff)

    response = client.post(
        reverse("admin:brands_posdevice_add"), {"store": store.pk, "name": "Till 9"}
    )

    assert response.status_code == 200
    [raw_key] = _keys_in(response)
    device = PosDevice.objects.get(name="Till 9")
    assert device.key_hash == hash_device_key(raw_key)
    assert raw_key not in {device.key_prefix, device.key_hash, device.name}
    assert pos_device_authenticate(raw_key=raw_key) == device
    change_page = client.get(reverse("admin:brands_posdevice_change", args=[device.pk]))
    content = change_page.content.decode()
    assert raw_key not in content
    assert device.key_hash not in content
    assert device.key_prefix in content


def test_a_device_cannot_be_added_to_another_brands_store(client, staff):
    other_store = StoreFactory(brand=BrandFactory(slug="brand-b"), code="other")
    client.force_login(staff)

    response = client.post(
        reverse("admin:brands_posdevice_add"), {"store": other_store.pk, "name": "Sneaky"}
    )

    assert response.status_code == 200
    assert "store" in response.context["adminform"].form.errors
    assert not PosDevice.objects.filter(name="Sneaky").exists()


def _action(client, action, devices):
    return client.post(
        reverse("admin:brands_posdevice_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [device.pk for device in devices]},
        follow=True,
    )


def test_revoke_action_revokes_the_device_key(client, staff, store):
    device, raw_key = make_device(store=store)
    client.force_login(staff)

    response = _action(client, "revoke_keys", [device])

    assert response.status_code == 200
    device.refresh_from_db()
    assert device.revoked_at is not None
    assert pos_device_authenticate(raw_key=raw_key) is None


def test_rotate_action_shows_the_new_key_once_and_the_old_one_stops_working(client, staff, store):
    device, old_key = make_device(store=store)
    client.force_login(staff)

    response = _action(client, "rotate_keys", [device])

    [new_key] = _keys_in(response)
    assert new_key != old_key
    assert pos_device_authenticate(raw_key=old_key) is None
    assert pos_device_authenticate(raw_key=new_key) == device
    device.refresh_from_db()
    assert device.key_hash == hash_device_key(new_key)


def test_rotate_refuses_a_revoked_device(client, staff, store):
    device, _ = make_device(store=store)
    client.force_login(staff)
    _action(client, "revoke_keys", [device])
    revoked_hash = PosDevice.objects.get(pk=device.pk).key_hash

    response = _action(client, "rotate_keys", [device])

    assert _keys_in(response) == []
    assert "was not rotated" in response.content.decode()
    assert PosDevice.objects.get(pk=device.pk).key_hash == revoked_hash


def test_actions_do_not_reach_another_brands_devices(client, staff):
    other, other_key = make_device(store=StoreFactory(brand=BrandFactory(slug="brand-b")))
    client.force_login(staff)

    _action(client, "revoke_keys", [other])

    other.refresh_from_db()
    assert other.revoked_at is None
    assert pos_device_authenticate(raw_key=other_key) == other
