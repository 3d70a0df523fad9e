"""What a fetch may send, and where it may connect. Pure.

Credentials written into a URL are taken out of it (``split_userinfo``) and sent
as basic auth. With ``[fetch] allow_private = false`` only public addresses are
connected to (``non_public_kind``).

The check is on the address a connection would actually use (after DNS), not on
the host name in the URL: a public name that resolves to 127.0.0.1, a decimal
IPv4 (``http://2130706433/``) or an IPv4-mapped IPv6 address all end up here as
the IP they really are.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, unquote, urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressError(OSError):
    """A connection to a non-public address was refused (an ``OSError`` so that the
    connection layer treats it as the connect failure it is)."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        where = host if host == address else f"{host} ({address})"
        super().__init__(f"refused to connect to {where}: a {kind} address, and "
                         "[fetch] allow_private is false")
        self.host = host
        self.address = address


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded(ip: Address) -> Address | None:
    """The IPv4 address an IPv6 one carries and would reach (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def non_public_kind(address: str) -> str | None:
    """What kind of non-public address ``address`` is ("loopback", "private", ...),
    or None for a public unicast address or a string that is no IP address."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return None
    inner = _embedded(ip)
    if inner is not None:
        return non_public_kind(str(inner))
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if test:
            return kind
    # Shared address space (100.64/10), documentation ranges and the like are
    # neither private nor global; none of them is a public web server.
    return None if ip.is_global else "non-public"


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without any ``user:password@``, and that pair percent-decoded (None if absent).

    Credentials in a URL are basic auth (RFC 3986 says user:password, percent-encoded);
    they never go on the wire inside the URL, nor into messages or stored URLs.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    bare = parts._replace(netloc=hostport).geturl()
    if not userinfo:
        return bare, None
    user, _, password = userinfo.partition(":")
    return bare, (unquote(user), unquote(password))


def with_userinfo(url: str, user: str, password: str) -> str:
    """``url`` with ``user:password@`` put back, percent-encoded: what
    ``split_userinfo`` took out."""
    parts = urlsplit(url)
    userinfo = quote(user, safe="") + ":" + quote(password, safe="")
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()
