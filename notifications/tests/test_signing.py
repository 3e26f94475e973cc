import pytest

from notifications.signing import compute_signature, signature_header, verify_signature

SECRET = "whsec-test"
BODY = b'{"event":"loyalty.points.earned","payload":{"points":120}}'
NOW = 1_750_000_000


def test_a_signed_body_verifies():
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert header == f"t={NOW},v1={compute_signature(SECRET, NOW, BODY)}"
    assert verify_signature(SECRET, header, BODY, 300, now=NOW + 10)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, NOW, BODY) == expected


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("another-secret", BODY, NOW),  # wrong secret
        (SECRET, BODY + b" ", NOW),  # body changed by one byte
        (SECRET, BODY, NOW + 301),  # replayed after the tolerance
        (SECRET, BODY, NOW - 301),  # timestamp from the future
    ],
)
def test_a_wrong_secret_changed_body_or_old_timestamp_fails(secret, body, now):
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert not verify_signature(secret, header, body, 300, now=now)


@pytest.mark.parametrize(
    "header", [None, "", "v1=abc", f"t={NOW}", "t=soon,v1=abc", f"t={NOW},v1=00"]
)
def test_a_missing_or_malformed_header_fails(header):
    assert not verify_signature(SECRET, header, BODY, 300, now=NOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ],
)
def test_webhooks_to_internal_addresses_are_refused(settings, url):
    from notifications.senders import webhook_post

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False

    result = webhook_post(url=url, secret="s", body=b"{}", event="e.v", delivery_id=1)

    assert not result.ok
    assert not result.transient
    assert result.status_code is None
