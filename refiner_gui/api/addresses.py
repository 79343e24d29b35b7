"""Which web addresses the app may fetch: public http(s) hosts only. No Qt, no requests.

A result link comes from the service's answer and a pasted image address from the user's
clipboard; neither may make the app reach into the machine's own network (a cloud
metadata service on 169.254.169.254, a router on 192.168.x.x, a database on localhost).
:func:`check_public_url` resolves the host name and refuses the address when ANY of the
addresses it resolves to is internal (loopback, private, link-local, unspecified,
multicast, reserved). Loopback alone may be allowed, for the local sandbox and tests.

Redirects are followed by the callers one hop at a time, each target checked the same way,
at most :data:`MAX_REDIRECTS` hops.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MAX_REDIRECTS", "UnsafeAddress", "check_public_url", "internal_reason"]

MAX_REDIRECTS = 5
"""Most redirects followed for one download; a loop ends here instead of ~30 requests."""

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class UnsafeAddress(ValueError):
    """The address may not be fetched. ``message`` is a plain sentence for the user;
    ``unresolved`` is True when only the host name lookup failed (worth a retry)."""

    def __init__(self, message: str, *, unresolved: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unresolved = unresolved


def internal_reason(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    *,
    allow_loopback: bool,
    allow_private: bool = False,
) -> str | None:
    """Why ``address`` is internal (``"link-local"``, ``"private"``...), or None if public.

    Link-local, unspecified, multicast and reserved addresses are always internal;
    loopback and private ones only unless allowed.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private and not allow_private),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def check_public_url(
    url: str,
    *,
    allow_loopback: bool = False,
    allow_private: bool = False,
    resolve: Resolver = socket.getaddrinfo,
) -> None:
    """Raise :class:`UnsafeAddress` unless ``url`` is http(s) to a public host.

    Every address the host name resolves to is checked (a name with one public and one
    private address is refused). ``allow_loopback``/``allow_private`` admit this machine
    and the private ranges (see :func:`internal_reason`). Blocking: the name lookup may
    take a moment.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise UnsafeAddress("The link is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeAddress(f"Refusing a {scheme or 'bare'} link: only http and https are allowed.")
    if not host:
        raise UnsafeAddress("The link has no host name.")
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            host.split("%", 1)[0]
        )
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = resolve(host, port or (443 if scheme == "https" else 80), 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise UnsafeAddress(f"Could not look up the host {host}.", unresolved=True) from None
        found = []
        for info in infos:
            raw = str(info[4][0]).split("%", 1)[0]
            try:
                found.append(ipaddress.ip_address(raw))
            except ValueError:
                raise UnsafeAddress(f"The host {host} has an unusable address.") from None
        if not found:
            raise UnsafeAddress(f"Could not look up the host {host}.", unresolved=True)
    for address in found:
        reason = internal_reason(
            address, allow_loopback=allow_loopback, allow_private=allow_private
        )
        if reason is not None:
            raise UnsafeAddress(
                f"Refusing to fetch from {host}: it points into a {reason} network "
                f"({address}), not to a public server."
            )


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost`` or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
