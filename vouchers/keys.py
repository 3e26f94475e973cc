"""Each brand's Ed25519 key pair for offline codes, made on first use.

The private key is kept encrypted with Fernet under a key derived (HKDF-SHA256) from
`VOUCHER_SIGNING_SECRET`, which defaults to `SECRET_KEY`: changing that secret makes the stored
keys unreadable, so an install that rotates `SECRET_KEY` sets `VOUCHER_SIGNING_SECRET` to the old
value. The public key is public: it travels in every POS bundle of the brand's voucher
promotions.
"""

import base64

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction

from vouchers.codes import public_key_text
from vouchers.models import BrandVoucherKey


def _fernet() -> Fernet:
    secret = getattr(settings, "VOUCHER_SIGNING_SECRET", "") or settings.SECRET_KEY
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"voucher-signing-key"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _seal(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return _fernet().encrypt(raw).decode("ascii")


def brand_key_get_or_create(*, brand_id: int) -> BrandVoucherKey:
    """The brand's key row, made once (a concurrent first call finds the winner's row)."""
    existing = BrandVoucherKey.objects.filter(brand_id=brand_id).first()
    if existing is not None:
        return existing
    private_key = Ed25519PrivateKey.generate()
    try:
        with transaction.atomic():
            return BrandVoucherKey.objects.create(
                brand_id=brand_id,
                public_key=public_key_text(private_key),
                sealed_private_key=_seal(private_key),
            )
    except IntegrityError:
        return BrandVoucherKey.objects.get(brand_id=brand_id)


def brand_private_key(key: BrandVoucherKey) -> Ed25519PrivateKey:
    raw = _fernet().decrypt(key.sealed_private_key.encode("ascii"))
    return Ed25519PrivateKey.from_private_bytes(raw)
