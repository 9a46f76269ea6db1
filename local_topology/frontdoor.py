"""The front door: nginx routing like the CloudFront distribution of the app stack.

``ROUTES`` is the distribution's behaviours as data: path pattern -> origin kind, plus the
default behaviour and the default root object. ``tests/local_topology/test_routes.py``
compares it with the synthesized distribution, so the local front door cannot drift from
the CDN. The nginx config is generated from it.

Origins: ``static`` and ``media`` are buckets (moto's S3, read like CloudFront's origin
access control reads them: a key is the request path without its leading slash), ``api``
is the load balancer (HAProxy), uncached, every method. ``start`` runs nginx with the config.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from local_topology.processes import run

DEFAULT_ROOT_OBJECT = "index.html"
DEFAULT_ORIGIN = "static"
# CloudFront path pattern -> origin kind, in the distribution's order of precedence
ROUTES: dict[str, str] = {"/media/*": "media", "/api/*": "api"}
BUCKET_METHODS = ("GET", "HEAD")  # a bucket behaviour's allowed methods; the API's: all
API_READ_TIMEOUT_S = 30  # the distribution's origin read timeout for the load balancer
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"  # "ip:port" of the player, as CloudFront sends it


@dataclass(frozen=True)
class Origins:
    s3: str  # host:port of the S3 endpoint
    static_bucket: str
    media_bucket: str
    load_balancer: str  # host:port


def nginx_prefix(pattern: str) -> str:
    """A CloudFront path pattern of the form ``/x/*`` as an nginx prefix location ``/x/``."""
    if not (pattern.startswith("/") and pattern.endswith("/*") and "*" not in pattern[:-1]):
        raise ValueError(f"front door: path pattern {pattern!r} is not of the form /prefix/*")
    return pattern[:-1]


def _bucket_location(bucket: str) -> str:
    return (
        f"    limit_except {' '.join(BUCKET_METHODS)} {{ deny all; }}\n"
        "    proxy_set_header Authorization \"\";\n"
        "    proxy_set_header Cookie \"\";\n"
        # HEAD goes to the bucket as GET (nginx sends the client only the headers): moto
        # refuses an anonymous HEAD of an object it serves to an anonymous GET
        "    proxy_method GET;\n"
        f"    rewrite ^(.*)$ /{bucket}$1 break;\n"
        "    proxy_pass http://s3;\n"
    )


def nginx_config(*, listen: str, origins: Origins, state_dir: str, user: str | None) -> str:
    buckets = {"static": origins.static_bucket, "media": origins.media_bucket}
    locations = [
        # the default root object: "/" is the static bucket's index.html
        f"  location = / {{\n{_bucket_location(origins.static_bucket).replace('$1', '/' + DEFAULT_ROOT_OBJECT)}  }}\n"
    ]
    for pattern, kind in ROUTES.items():
        if kind == "api":
            body = (
                "    proxy_pass http://load_balancer;\n"
                "    proxy_http_version 1.1;\n"
                "    proxy_set_header Connection \"\";\n"
                # the viewer's address, as CloudFront sets it (the hosts trust it from the subnet only)
                f"    proxy_set_header {VIEWER_ADDRESS_HEADER} $remote_addr:$remote_port;\n"
                f"    proxy_read_timeout {API_READ_TIMEOUT_S}s;\n"
                "    proxy_buffering off;\n"
            )
        else:
            body = _bucket_location(buckets[kind])
        locations.append(f"  location {nginx_prefix(pattern)} {{\n{body}  }}\n")
    locations.append(f"  location / {{\n{_bucket_location(buckets[DEFAULT_ORIGIN])}  }}\n")
    return (
        (f"user {user};\n" if user else "")
        + "worker_processes 1;\n"
        "daemon on;\n"
        f"pid {state_dir}/nginx.pid;\n"
        f"error_log {state_dir}/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"  access_log {state_dir}/access.log;\n"
        f"  client_body_temp_path {state_dir}/tmp-body;\n"
        f"  proxy_temp_path {state_dir}/tmp-proxy;\n"
        f"  fastcgi_temp_path {state_dir}/tmp-fastcgi;\n"
        f"  uwsgi_temp_path {state_dir}/tmp-uwsgi;\n"
        f"  scgi_temp_path {state_dir}/tmp-scgi;\n"
        "  client_max_body_size 3m;\n"
        f"  upstream load_balancer {{ server {origins.load_balancer}; keepalive 64; }}\n"
        f"  upstream s3 {{ server {origins.s3}; }}\n"
        "  server {\n"
        f"  listen {listen};\n"
        + "".join(locations)
        + "  }\n}\n"
    )


def start(folder: Path, *, listen: str, origins: Origins) -> int:
    """nginx with this config, its files under ``folder`` (a new folder); its master's pid."""
    folder.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(listen=listen, state_dir=str(folder), origins=origins,
                                 user="www-data" if os.geteuid() == 0 else None))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    run([nginx, "-t", "-q", "-c", conf, "-p", folder, "-e", folder / "error.log"])
    run([nginx, "-c", conf, "-p", folder, "-e", folder / "error.log"])
    return int((folder / "nginx.pid").read_text())
