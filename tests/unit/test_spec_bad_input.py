"""Bad input, as an attacker or a tired operator would write it: each case is
refused by `hapair validate` with exit 2 and a message naming its field,
never a traceback, and nothing of it reaches a file or a shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hapair.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()
M2L = (EXAMPLES / "m2l.toml").read_text()
WEB = '[web]\napp = "roombook.wsgi:app"\n'


def web(extra: str) -> str:
    """m2l with lines added to its [web] table (an env given so replaces its [web.env])."""
    text = M2L
    if extra.startswith("env "):
        start = text.index("[web.env]\n")
        end = text.index("\n[", start + 1)
        text = text[:start] + text[end + 1:]
    return text.replace('[web]\n', f"[web]\n{extra}\n", 1)


def node1(old: str, new: str) -> str:
    return M2L.replace(old, new, 1)


CASES: list[tuple[str, str, str]] = [
    # (what, the spec's text, the field the error must name)
    ("server_name with a newline (Apache directives)",
     M2L.replace('server_name = "booking.m2l.example"',
                 'server_name = "x\\nInclude /etc/shadow"'), "web.server_name"),
    ("server_name with a space", M2L.replace('"booking.m2l.example"', '"a b"'),
     "web.server_name"),
    ("server_name with a quote", M2L.replace('"booking.m2l.example"', '"a\\"b"'),
     "web.server_name"),
    ("env key with a space", web('env = { "A B" = "1" }'), "web.env.A B"),
    ("TLS from files without the key", web('tls = "files"\ntls_cert = "/etc/ssl/a.pem"'),
     "web.tls_key"),
    ("a TLS certificate path with a space", web('tls = "files"\ntls_cert = "/a b"\n'
                                                 'tls_key = "/k"'), "web.tls_cert"),
    ("an unknown TLS source", web('tls = "letsencrypt"'), "web.tls"),
    ("a certificate path while TLS comes from the cluster CA", web('tls_cert = "/etc/a.pem"'),
     "web.tls_cert"),
    ("env key with a shell expansion", web('env = { "A$(id)" = "1" }'), "web.env.A$(id)"),
    ("env value with a newline", web('env = { A = "1\\nB=2" }'), "web.env.A"),
    ("env value with NUL", web('env = { A = "1\\u0000" }'), "web.env.A"),
    ("env value with an unknown placeholder", web('env = { A = "{db_pass}" }'), "web.env.A"),
    ("env value with a lone brace", web('env = { A = "x{" }'), "web.env.A"),
    ("env value with an attribute lookup", web('env = { A = "{node.__class__}" }'),
     "web.env.A"),
    ("setup with ; (a second command as root)", web('setup = ["roombook upgrade; id"]'),
     "web.setup[0]"),
    ("setup with a pipe", web('setup = ["roombook x | sh"]'), "web.setup[0]"),
    ("setup with backticks", web('setup = ["roombook `id`"]'), "web.setup[0]"),
    ("setup with $()", web('setup = ["roombook $(id)"]'), "web.setup[0]"),
    ("setup with a path out of the venv", web('setup = ["../../bin/sh -c id"]'),
     "web.setup[0]"),
    ("setup with an unclosed quote", web('setup = ["roombook \'x"]'), "web.setup[0]"),
    ("datadir with ..", M2L.replace('datadir = "/srv/data/mysql"',
                                    'datadir = "/srv/../etc"'), "database.datadir"),
    ("brick path with ..", M2L.replace('brick_path = "/srv/data/gluster/static"',
                                       'brick_path = "/srv/data/.."'), "volume.brick_path"),
    ("static_url with ..", M2L.replace('static_url = "/static"', 'static_url = "/../x"'),
     "web.static_url"),
    ("ssh read as a pyinfra connector", node1('ssh = "10.54.0.10"', 'ssh = "@local"'),
     "nodes[0].ssh"),
    ("ssh read as an option", node1('ssh = "10.54.0.10"', 'ssh = "-oProxyCommand=id"'),
     "nodes[0].ssh"),
    ("ssh with a user part", node1('ssh = "10.54.0.10"', 'ssh = "root@10.54.0.10"'),
     "nodes[0].ssh"),
    ("ssh_user with a space", node1('ssh = "10.54.0.10"', 'ssh = "10.54.0.10"\n'
                                    'ssh_user = "root -o x"'), "nodes[0].ssh_user"),
    ("node name with markup", node1('name = "node1"', 'name = "[/bold]"'), "nodes[0].name"),
    ("node name in capitals", node1('name = "node1"', 'name = "Node1"'), "nodes[0].name"),
    ("a number where text goes", node1('name = "node1"', "name = 1"), "nodes[0].name"),
    ("text where a number goes", M2L.replace("workers = 4", 'workers = "four"'),
     "web.workers"),
    ("a table where text goes", M2L.replace('name = "m2l"', "name = { a = 1 }"), "name"),
    ("an interface name too long", M2L.replace('"eth0", "eth1"', '"eth0eth0eth0eth0", "eth1"'),
     "networks.interconnect.bond.interfaces[0]"),
    ("an unknown field", M2L.replace("[vip]\n", "[vip]\ncolour = 1\n"), "vip.colour"),
    # Python's $ also matches before a final newline: every pattern ends in \Z.
    ("static_url with a final newline (a broken Apache config)",
     M2L.replace('static_url = "/static"', 'static_url = "/photos\\n"'), "web.static_url"),
    ("a node name with a final newline", node1('name = "node1"', 'name = "node1\\n"'),
     "nodes[0].name"),
    ("a datadir with a final newline", M2L.replace('datadir = "/srv/data/mysql"',
                                                   'datadir = "/srv/data/mysql\\n"'),
     "database.datadir"),
]

LAB_FENCE = (EXAMPLES / "lab-fence.toml").read_text()
CASES += [
    # Each word of a fence option's value could become an argument of
    # ipmitool's command line (fence_ipmilan builds one).
    ("a fence option with a space (an extra ipmitool argument)",
     LAB_FENCE.replace('username = "admin"', 'username = "admin -L ADMINISTRATOR"', 1),
     "nodes[0].fence.options.username"),
    ("a fence option with a newline (a second option on stdin)",
     LAB_FENCE.replace('username = "admin"', 'username = "admin\\npassword=x"', 1),
     "nodes[0].fence.options.username"),
    ("three nodes (not yet: docs/three-nodes.md)",
     M2L.replace("[storage]", '[[nodes]]\nname = "node3"\nssh = "10.54.0.12"\n'
                 'interconnect = "192.168.57.104"\npublic = "10.54.0.12"\npriority = 50\n'
                 'server_id = 3\n\n[storage]', 1), "nodes[2]"),
    ("six nodes", M2L.replace("[storage]", "".join(
        f'[[nodes]]\nname = "node{n}"\nssh = "10.54.0.{n + 9}"\ninterconnect = '
        f'"192.168.57.{n + 101}"\npublic = "10.54.0.{n + 9}"\npriority = 50\n'
        f'server_id = {n}\n\n' for n in range(3, 7)) + "[storage]", 1), "nodes[5]"),
]


@pytest.mark.parametrize(("what", "text", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_and_refused(tmp_path: Path, what: str, text: str,
                                        field: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f": {field}:" in result.output, result.output


@pytest.mark.parametrize(("what", "content"), [
    ("not UTF-8", b'name = "m2l"\n\xff\xfe = 1\n'),
    ("nested too deeply", b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
    ("not TOML at all", b"\x00\x01\x02"),
    ("empty", b""),
])
def test_unreadable_files_are_one_clear_error(tmp_path: Path, what: str, content: bytes) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_bytes(content)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), what
    assert "Traceback" not in result.output and "error" in result.output


def test_markup_in_a_value_is_printed_as_written(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(M2L.replace('name = "node1"', 'name = "[/bold][red]x"'))
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "[/bold][red]x" in result.output
    assert "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\Z" in result.output  # the pattern, unmangled
