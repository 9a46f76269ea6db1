"""Who is asking: the client address that per-address limits (guest sign-ups) count.

Behind CloudFront (and, in scale-out, the load balancer) the TCP peer is the load balancer or
CloudFront's VPC origin, so the viewer's address comes from the header the edge sets
(``GAME_CLIENT_ADDRESS_HEADER``, CloudFront's ``CloudFront-Viewer-Address: ip:port``). That
header is believed only when the peer is in ``GAME_TRUSTED_PROXIES``: anyone else could write
it. An IPv6 client counts by its /64 (one host usually has a whole /64 to pick from).
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from game_service.core.config import Settings


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _from_header(value: str):
    """``ip:port``, ``[ipv6]:port``, ``ipv6:port`` or a bare address."""
    value = value.strip()
    ip = _ip(value)
    if ip is None and ":" in value:
        ip = _ip(value.rsplit(":", 1)[0])
    return ip


def client_key(request: Request, s: Settings) -> str:
    """The address a per-address limit counts (at most 64 characters)."""
    peer_text = request.client.host if request.client else ""
    peer = _ip(peer_text)
    ip = peer
    if peer is not None and any(peer in net for net in s.trusted_proxy_networks):
        header = request.headers.get(s.client_address_header)
        viewer = _from_header(header) if header else None
        if viewer is not None:
            ip = viewer
    if ip is None:
        return peer_text[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
