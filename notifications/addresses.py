"""Where a webhook may go: the host of its URL must resolve to public addresses only.

A delivery resolves the host once (`resolve_host`), checks every address, and then connects to
an address it checked (`senders.webhook_post`), so a DNS answer that changes between the check
and the connection (DNS rebinding) cannot point a delivery at loopback or the private network.
IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 and 6to4) are judged
by the IPv4 address they carry.

`settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS` lifts the check (development and tests);
`settings.WEBHOOK_ALLOWED_NETWORKS` (CIDRs) allows chosen private networks, such as a
receiver inside the company network.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that embed an IPv4 address in their last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
# The local-use NAT64 prefix (RFC 8215) is never public, whatever it embeds.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class WebhookAddressRefused(Exception):
    """The URL may not be called; the message says why, in a sentence."""


@dataclass(frozen=True)
class WebhookTarget:
    """A URL whose host was resolved and checked: connect to `addresses`, in order."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to. The one DNS lookup of a delivery."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(cidr, strict=False)
        for cidr in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ())
    ]


def _in_allowed_network(address: IPAddress) -> bool:
    return any(
        address.version == network.version and address in network for network in _allowed_networks()
    )


def address_is_allowed(raw: str) -> bool:
    """Whether a webhook may connect to the address `raw` (an IPv4 or IPv6 literal)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return True
    address = ipaddress.ip_address(raw.split("%", 1)[0])
    if _in_allowed_network(address):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            if not (_is_public(embedded) or _in_allowed_network(embedded)):
                return False
            if address.ipv4_mapped is not None:
                return True  # the IPv4 address itself is what is reached
    return _is_public(address)


def webhook_target(url: str) -> WebhookTarget:
    """Resolve the URL's host once and check every address; raise `WebhookAddressRefused`."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookAddressRefused("The URL is not valid.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookAddressRefused("The URL must start with http:// or https:// and name a host.")
    host = parts.hostname
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError):
        raise WebhookAddressRefused(f"The host {host} cannot be resolved.") from None
    if not addresses:
        raise WebhookAddressRefused(f"The host {host} cannot be resolved.")
    for address in addresses:
        if not address_is_allowed(address):
            raise WebhookAddressRefused(
                f"The host {host} points to a private or reserved address ({address}); "
                "webhooks go to public addresses only."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(
        scheme=parts.scheme, host=host, port=port, path=path, addresses=tuple(addresses)
    )


def validate_webhook_url(url: str) -> None:
    """Model and form validation of an endpoint URL: refused when saved, not only at delivery
    (where it is checked again, as DNS answers change)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return
    try:
        webhook_target(url)
    except WebhookAddressRefused as refusal:
        raise ValidationError(str(refusal), code="webhook_address_refused") from None
