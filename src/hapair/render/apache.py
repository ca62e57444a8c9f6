"""The Apache site: static files from the shared volume, the rest proxied to
the application server on the node's loopback."""

from __future__ import annotations

from hapair.render.files import RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

SITE_PATH = "/etc/apache2/sites-available/hapair.conf"
MODULES = ("proxy", "proxy_http", "headers", "alias")


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    web = spec.web
    static_dir = spec.volume.mount_point
    backend = f"http://127.0.0.1:{web.port}/"
    server_name = f"    ServerName {web.server_name}\n" if web.server_name else ""
    text = f"""{header(spec, node)}
# Listens on every address so that it serves the VIP wherever it lands.
<VirtualHost *:80>
{server_name}    ProxyRequests Off
    ProxyPreserveHost On
    RequestHeader set X-Forwarded-Proto "http"
    # Which node answered: what a person or a drill sees across a failover.
    Header always set X-Served-By "{node.name}"

    Alias {web.static_url} {static_dir}
    <Directory {static_dir}>
        Options -Indexes -ExecCGI
        AllowOverride None
        Require all granted
    </Directory>
    ProxyPass {web.static_url} !

    # retry=0: a restarted application server is used again at once.
    ProxyPass / {backend} connectiontimeout=2 timeout=30 retry=0
    ProxyPassReverse / {backend}

    ErrorLog /var/log/apache2/hapair-error.log
    CustomLog /var/log/apache2/hapair-access.log combined
</VirtualHost>
"""
    return [RenderedFile(SITE_PATH, text, 0o644, "apache")]
