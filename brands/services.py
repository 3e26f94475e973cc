"""Writes for brands, stores and POS devices."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from brands.models import PosDevice, Store

DEVICE_KEY_PREFIX = "pos"
# A device's last_seen_at is written at most this often, so authentication stays read-only.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


def hash_device_key(raw_key: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough; no password stretching needed.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _new_device_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{DEVICE_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def pos_device_create(
    *, store: Store, name: str, raw_key: str | None = None
) -> tuple[PosDevice, str]:
    """Create a device and return it with its plain key, which is never stored nor shown again.

    `raw_key` lets the demo seed derive a reproducible key; it must have the key's format.
    """
    prefix, raw_key = _key_and_prefix(raw_key)
    device = PosDevice(store=store, name=name, key_prefix=prefix, key_hash=hash_device_key(raw_key))
    device.full_clean()
    device.save()
    return device, raw_key


def _key_and_prefix(raw_key: str | None) -> tuple[str, str]:
    if raw_key is None:
        return _new_device_key()
    prefix = parse_device_key(raw_key)
    if prefix is None:
        raise ValueError("raw_key does not have the device key format")
    return prefix, raw_key


@transaction.atomic
def pos_device_rotate_key(*, device: PosDevice, raw_key: str | None = None) -> str:
    """Give the device a new key (random, or `raw_key` for the demo seed) and return it."""
    prefix, raw_key = _key_and_prefix(raw_key)
    PosDevice.objects.filter(pk=device.pk).update(
        key_prefix=prefix, key_hash=hash_device_key(raw_key)
    )
    device.key_prefix, device.key_hash = prefix, hash_device_key(raw_key)
    return raw_key


def pos_device_revoke(*, device: PosDevice) -> PosDevice:
    now = timezone.now()
    PosDevice.objects.filter(pk=device.pk, revoked_at__isnull=True).update(revoked_at=now)
    device.refresh_from_db(fields=["revoked_at"])
    return device


def parse_device_key(raw_key: str) -> str | None:
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != DEVICE_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def pos_device_authenticate(*, raw_key: str) -> PosDevice | None:
    """The active device holding `raw_key`, or None. Records when the device was last seen."""
    prefix = parse_device_key(raw_key)
    if prefix is None:
        return None
    device = (
        PosDevice.objects.select_related("store__brand")
        .filter(key_prefix=prefix, revoked_at__isnull=True)
        .order_by()  # the prefix is unique: no need for the model's ordering (three joins)
        .first()
    )
    if device is None or not hmac.compare_digest(device.key_hash, hash_device_key(raw_key)):
        return None
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at > LAST_SEEN_RESOLUTION:
        PosDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now
    return device
