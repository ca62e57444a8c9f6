"""The fence agents' interface: metadata parsed from a real agent's output
(tests/fixtures/fence), options checked against it, standard input built,
verdicts read from exit codes; a fake agent proves the password never
reaches the arguments or the answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hapair.fence import agent as fa

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "fence"
META = fa.parse_metadata((FIX / "fence_ipmilan-metadata.xml").read_text())


def test_the_metadata_of_fence_ipmilan() -> None:
    assert META.name == "fence_ipmilan"
    assert {"off", "on", "status", "monitor", "metadata"} <= META.actions
    assert META.parameters["ip"].aliases == ("ipaddr",)
    assert META.parameters["username"].aliases == ("login",)
    assert META.parameters["lanplus"].type == "boolean"
    assert "ipaddr" not in META.parameters  # the old name lives on as an alias


@pytest.mark.parametrize(("options", "words"), [
    ({"ip": "10.99.0.110", "username": "admin", "lanplus": "1"}, []),
    ({"ipaddr": "10.99.0.110", "login": "admin"}, []),
    ({"ip": "10.99.0.110", "colour": "blue"}, ["'colour' is not an option of fence_ipmilan"]),
    ({"ip": "10.99.0.110", "lanplus": "maybe"}, ["'lanplus' takes true or false"]),
    ({"ip": "10.99.0.110", "power_wait": "soon"}, ["'power_wait' takes a number"]),
])
def test_options_are_checked_against_the_metadata(options: dict[str, str],
                                                  words: list[str]) -> None:
    problems = META.problems(options)
    assert len(problems) == len(words)
    for p, w in zip(problems, words, strict=True):
        assert w in p


def test_a_required_option_must_be_given() -> None:
    xml = ('<resource-agent name="fence_x"><parameters><parameter name="ip" required="1">'
           '<content type="string"/></parameter></parameters><actions><action name="off"/>'
           '</actions></resource-agent>')
    assert fa.parse_metadata(xml).problems({}) == ["fence_x needs the option 'ip'"]


def test_standard_input_and_verdicts() -> None:
    text = fa.stdin_text("off", {"username": "admin", "ip": "10.0.0.1"}, "pw")
    assert text == "action=off\nip=10.0.0.1\nusername=admin\npassword=pw\n"
    assert fa.power_of("status", 0) is fa.Power.ON
    assert fa.power_of("status", 2) is fa.Power.OFF
    assert fa.power_of("status", 1) is fa.Power.UNKNOWN


def fake_agent(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fence_fake"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_the_password_travels_on_standard_input_only(tmp_path: Path) -> None:
    agent = fake_agent(tmp_path, 'cat > "$0.in"; echo "$@" > "$0.args"; '
                                 'echo "Failed: login with secret-pw refused" >&2; exit 1\n')
    out = fa.run(agent, "off", {"ip": "10.0.0.1"}, "secret-pw", timeout=5)
    assert not out.ok and out.code == 1
    assert "secret-pw" not in out.said and "***" in out.said
    assert (tmp_path / "fence_fake.args").read_text().strip() == ""
    assert "password=secret-pw" in (tmp_path / "fence_fake.in").read_text()


def test_status_exit_codes_and_a_hanging_agent(tmp_path: Path) -> None:
    off = fake_agent(tmp_path, "cat >/dev/null; echo 'Status: OFF'; exit 2\n")
    out = fa.run(off, "status", {}, timeout=5)
    assert out.ok and fa.power_of("status", out.code) is fa.Power.OFF and out.said == "Status: OFF"
    os.rename(off, tmp_path / "fence_slow")
    (tmp_path / "fence_slow").write_text("#!/bin/sh\nsleep 5\n")
    with pytest.raises(fa.FenceError, match="no verdict within 0.3s"):
        fa.run(str(tmp_path / "fence_slow"), "status", {}, timeout=0.3)
    with pytest.raises(fa.FenceError, match="not installed"):
        fa.run("fence_nowhere_to_be_found", "status", {})
