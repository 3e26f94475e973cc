"""A login for an unknown username costs the same password hash as a wrong password does, so
the answer's timing does not tell which usernames exist."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """A real hasher (MD5, fast for tests) that counts how often it hashes."""

    algorithm = "counting_md5"
    hashes = 0

    def encode(self, password, salt):
        CountingHasher.hashes += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.hashes = 0
    return CountingHasher


def hashes_for_one_login(hasher, username: str) -> int:
    before = hasher.hashes
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": "not-the-password"}
    )
    assert response.status_code == 400
    return hasher.hashes - before


def test_an_unknown_username_costs_one_hash_like_a_wrong_password(counting_hasher, customer):
    customer.user.set_password("pass-word-123")  # stored with the counting hasher
    customer.user.save(update_fields=["password"])

    assert hashes_for_one_login(counting_hasher, "jane@example.com") == 1
    assert hashes_for_one_login(counting_hasher, "nobody@example.com") == 1
