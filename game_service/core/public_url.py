"""Where players reach the site: the base of URLs the service hands out (the data-deletion
status URL). In order: ``GAME_PUBLIC_BASE_URL``; the SSM parameter named by
``GAME_PUBLIC_BASE_URL_PARAMETER`` (the app stack writes the CloudFront URL there once the
distribution exists, which the hosts' own configuration cannot name); outside production,
the address the request came to (local play, tests). Never a request's Host header in
production: behind the load balancer it would be the internal address, and a client can
forge it."""

from __future__ import annotations

from game_service.core.config import Settings, read_parameter
from game_service.errors import GameError

def _from_parameter(name: str) -> str:
    try:
        return read_parameter(name)
    except Exception as exc:  # noqa: BLE001 - answered as a clear 503
        raise GameError(503, "public_url_unavailable", f"the site's public URL cannot be read from {name}") from exc


def public_base_url(settings: Settings, request_base_url: str) -> str:
    """The site's public base URL, without a trailing slash (blocking: call in a thread)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    if settings.public_base_url_parameter:
        return _from_parameter(settings.public_base_url_parameter).rstrip("/")
    if settings.env != "production":
        return request_base_url.rstrip("/")
    raise GameError(503, "public_url_unavailable", "no public URL configured (GAME_PUBLIC_BASE_URL[_PARAMETER])")
