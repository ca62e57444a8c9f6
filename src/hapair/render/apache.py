"""The Apache site: static files from the shared volume, the rest proxied to
the application server on the node's loopback; over HTTPS when web.tls is on,
with plain HTTP redirected to it (but /healthz, which local checks ask)."""

from __future__ import annotations

from hapair.paths import WEB_CERT, WEB_KEY
from hapair.render.files import RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

SITE_PATH = "/etc/apache2/sites-available/hapair.conf"
MODULES = ("proxy", "proxy_http", "headers", "alias", "reqtimeout", "buffer", "env", "rewrite")
THREADS_PER_CHILD = 25  # Debian's mpm_event default
TLS_MODULES = ("ssl",)


def cert_files(spec: ClusterSpec) -> tuple[str, str] | None:
    """(certificate, key) paths on the nodes, or None without TLS."""
    web = spec.web
    if web.tls == "off":
        return None
    if web.tls == "files":
        assert web.tls_cert and web.tls_key  # the spec's rules say so
        return web.tls_cert, web.tls_key
    return WEB_CERT, WEB_KEY


def _site(spec: ClusterSpec, node: Node, proto: str) -> str:
    """What both virtual hosts serve: the volume's files, the rest proxied."""
    web = spec.web
    static_dir = spec.volume.mount_point
    backend = f"http://127.0.0.1:{web.port}/"
    return f"""{bodies(spec)}    ProxyRequests Off
    ProxyPreserveHost On
    RequestHeader set X-Forwarded-Proto "{proto}"
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
    # disablereuse: a connection per request (on loopback, cheap). A pooled
    # one that gunicorn closes as it is reused (its keep-alive is 2 s) fails
    # the request with a reset (seen: a /healthz check under slow clients,
    # answered 502, and the VIP moved).
    ProxyPass / {backend} connectiontimeout=2 timeout=30 retry=0 disablereuse=On
    ProxyPassReverse / {backend}

    ErrorLog /var/log/apache2/hapair-error.log
    CustomLog /var/log/apache2/hapair-access.log combined
"""


def limits(spec: ClusterSpec) -> str:
    """web.limits, server-wide: Apache's workers, and how fast headers and
    bodies must come (mod_reqtimeout: a slow client is cut off with 408
    instead of holding a worker).

    Every child is started at once and kept (StartServers, Min and
    MaxSpareThreads at the whole): with Debian's defaults Apache starts two
    children (50 threads) and adds more at 1, 2, 4 a second; in the
    slow-clients drill one booking half a second into the attack waited
    1.1 s in 2 runs of 10, most likely behind the slow clients that filled
    those two.

    ServerLimit leaves room for a whole second generation: on a graceful
    reload (apply's, for an Apache setting) the old children keep their
    scoreboard slots until their connections end, and a new child starts
    only in a free slot (Apache's mpm_event manual, "Graceful process
    termination and Scoreboard usage"). With no room, new connections wait
    for the old generation, up to the parent's next look a second later:
    `apply-apache` on the pair, a client's longest wait, was 1.17 s median
    and 2.09 s at most over 4 runs with ServerLimit equal to the children
    (TLS handshakes timing out), and 0.33 s median, 1.13 s at most over 5
    runs with it doubled. Apache reads ServerLimit only when it starts: a
    running server takes it at its next restart."""
    lim = spec.web.limits
    children = -(-lim.max_connections // THREADS_PER_CHILD)
    workers = children * THREADS_PER_CHILD
    return f"""# web.limits: what one client may ask of this server.
<IfModule mpm_event_module>
    ServerLimit {2 * children}
    StartServers {children}
    ThreadsPerChild {THREADS_PER_CHILD}
    MaxRequestWorkers {workers}
    MinSpareThreads {workers}
    MaxSpareThreads {workers + THREADS_PER_CHILD}
</IfModule>
RequestReadTimeout handshake=5 header={lim.header_timeout_s}-{lim.header_max_s},MinRate=500 \
body={lim.body_timeout_s},MinRate={lim.body_min_rate}
"""


def bodies(spec: ClusterSpec) -> str:
    """Apache reads a request's body whole before the application sees it:
    without it mod_proxy connects at once and streams the body as it comes,
    and a client trickling one holds one of the application's few threads
    for as long (measured on Apache 2.4.71: the backend connected at the
    first byte). An input filter of the request's own (mod_buffer's) makes
    mod_proxy spool the body first; mod_request's KEEP_BODY did the same but
    crashed Apache's children under slow clients (19 segfaults in 30 s in
    the lab, in mod_request under ap_proxy_spool_input). LimitRequestBody is
    not applied to a proxied body there, so a declared size over the limit
    is refused here, at once, and a body of no declared size (chunked) too."""
    lim = spec.web.limits
    length = "%{HTTP:Content-Length}"
    elsewhere = "".join(f" && %{{REQUEST_URI}} !~ m#^{path}#" for path in lim.upload_paths)

    def over(size: int, where: str = "") -> str:
        return (f'    RewriteCond expr "{length} =~ /^[0-9]+$/ && {length} -gt {size}{where}"\n'
                "    RewriteRule ^ - [R=413,L]\n")

    return f"""    SetEnv proxy-sendcl 1
    SetInputFilter BUFFER
    LimitRequestBody {lim.body_max_bytes}
    RewriteEngine On
    RewriteCond expr "-n %{{HTTP:Transfer-Encoding}}"
    RewriteRule ^ - [R=411,L]
{over(lim.body_max_bytes, elsewhere)}{over(lim.upload_max_bytes)}"""


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    web = spec.web
    server_name = f"    ServerName {web.server_name}\n" if web.server_name else ""
    files = cert_files(spec)
    if files is None:
        text = f"""{header(spec, node)}
{limits(spec)}
# Listens on every address so that it serves the VIP wherever it lands.
<VirtualHost *:80>
{server_name}{_site(spec, node, "http")}</VirtualHost>
"""
        return [RenderedFile(SITE_PATH, text, 0o644, "apache")]
    cert, key = files
    text = f"""{header(spec, node)}
{limits(spec)}
# Listens on every address so that it serves the VIP wherever it lands.
# Plain HTTP only sends people to HTTPS (the same host, port 443); /healthz
# stays answered for the local checks.
<VirtualHost *:80>
{server_name}    Header always set X-Served-By "{node.name}"
    RewriteEngine On
    RewriteCond %{{REQUEST_URI}} !=/healthz
    RewriteRule ^ https://%{{SERVER_NAME}}%{{REQUEST_URI}} [R=301,L]
    ProxyPass /healthz http://127.0.0.1:{web.port}/healthz connectiontimeout=2 timeout=5 retry=0 \\
        disablereuse=On
</VirtualHost>

<VirtualHost *:443>
{server_name}    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    Header always set Strict-Transport-Security "max-age=31536000"
{_site(spec, node, "https")}</VirtualHost>
"""
    return [RenderedFile(SITE_PATH, text, 0o644, "apache")]


def modules(spec: ClusterSpec) -> tuple[str, ...]:
    return MODULES + (TLS_MODULES if cert_files(spec) is not None else ())
