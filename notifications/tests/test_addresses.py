"""Where webhooks may go: public addresses only, in every IPv6 form that carries an IPv4
address; the host is resolved once and the connection goes to the address that was checked
(real HTTP and HTTPS servers on loopback, the code's own resolver as the DNS)."""

import ssl
import subprocess

import pytest
from django.core.exceptions import ValidationError

from brands.tests.factories import BrandFactory
from notifications import addresses
from notifications.addresses import address_is_allowed, validate_webhook_url
from notifications.models import WebhookEndpoint
from notifications.senders import webhook_post
from notifications.tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def public_only(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    return settings


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::808:808",  # local-use NAT64: never public
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    ],
)
def test_private_addresses_in_every_form_are_refused(public_only, address):
    assert address_is_allowed(address) is False


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(public_only, address):
    assert address_is_allowed(address) is True


def test_an_allowed_network_lets_its_private_addresses_through(public_only):
    public_only.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]

    assert address_is_allowed("10.20.3.4") is True
    assert address_is_allowed("::ffff:10.20.3.4") is True
    assert address_is_allowed("10.21.0.1") is False


def _resolver(monkeypatch, *answers: list[str]) -> list[str]:
    """Answer each lookup with the next of `answers` (the last repeats); record the hosts."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    monkeypatch.setattr(addresses, "resolve_host", resolve)
    return asked


def test_dns_rebinding_cannot_reach_an_address_that_was_not_checked(public_only, monkeypatch):
    # Given a receiver the check allows (127.0.0.1, an allowed network here, standing for a
    # public address) and an internal service on the same port of 127.0.0.2, which it refuses
    public_only.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    checked = WebhookReceiver().start()
    internal = WebhookReceiver(host="127.0.0.2", port=checked.port).start()
    # ... and a DNS answer that changes after the first lookup
    asked = _resolver(monkeypatch, ["127.0.0.1"], ["127.0.0.2"])
    try:
        # When a webhook is posted to the name
        result = webhook_post(
            url=f"http://hooks.rebind.test:{checked.port}/hook?x=1",
            secret="s",
            body=b"{}",
            event="e.v",
            delivery_id=7,
        )
    finally:
        checked.stop()
        internal.stop()

    # Then the name was resolved once, and the request went to the checked address only
    assert result.ok, result
    assert asked == ["hooks.rebind.test"]
    assert internal.requests == []
    [request] = checked.requests
    assert request.path == "/hook?x=1"
    assert request.headers["Host"] == f"hooks.rebind.test:{checked.port}"


def test_a_name_that_resolves_to_a_private_address_is_refused_before_connecting(
    public_only, monkeypatch
):
    internal = WebhookReceiver().start()
    _resolver(monkeypatch, ["127.0.0.1"])
    try:
        result = webhook_post(
            url=f"http://hooks.rebind.test:{internal.port}/hook",
            secret="s",
            body=b"{}",
            event="e.v",
            delivery_id=7,
        )
    finally:
        internal.stop()

    assert not result.ok
    assert not result.transient
    assert "private or reserved address" in result.error
    assert internal.requests == []


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for hooks.tls.test, trusted as a CA by the client."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hooks.tls.test",
            "-addext",
            "subjectAltName=DNS:hooks.tls.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _tls_receiver(certificate) -> WebhookReceiver:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return WebhookReceiver(tls=context).start()


@pytest.mark.parametrize(("host", "delivered"), [("hooks.tls.test", True), ("other.test", False)])
def test_https_to_the_checked_address_verifies_the_urls_host_name(
    settings, monkeypatch, certificate, host, delivered
):
    # Given an HTTPS receiver whose certificate names hooks.tls.test, trusted by the client
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    receiver = _tls_receiver(certificate)
    _resolver(monkeypatch, ["127.0.0.1"])
    try:
        result = webhook_post(
            url=f"https://{host}:{receiver.port}/hook",
            secret="s",
            body=b"{}",
            event="e.v",
            delivery_id=7,
        )
    finally:
        receiver.stop()

    # Then the certificate is checked against the URL's host, not the address connected to
    assert result.ok is delivered, result
    assert len(receiver.requests) == (1 if delivered else 0)
    if delivered:
        assert receiver.requests[0].headers["Host"] == f"hooks.tls.test:{receiver.port}"
    else:
        assert "certificate" in result.error.lower() or "hostname" in result.error.lower()


@pytest.mark.django_db
def test_an_endpoint_with_a_private_url_is_refused_when_saved(public_only, monkeypatch):
    _resolver(monkeypatch, ["10.0.0.5"])
    endpoint = WebhookEndpoint(
        name="Internal", brand=BrandFactory(), url="https://hooks.internal.test/hook"
    )

    with pytest.raises(ValidationError) as raised:
        endpoint.full_clean()

    assert "url" in raised.value.message_dict
    assert "private or reserved address" in raised.value.message_dict["url"][0]


@pytest.mark.django_db
def test_an_endpoint_with_a_public_url_is_saved(public_only, monkeypatch):
    _resolver(monkeypatch, ["8.8.8.8"])

    validate_webhook_url("https://hooks.example.test/hook")  # no error, nothing connected to
