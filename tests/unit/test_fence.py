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


def test_an_ipmitool_agent_gets_its_password_in_the_environment_only() -> None:
    """fence_ipmilan puts a password it is given on ipmitool's command line;
    given none, and the wrapper as ipmitool_path, nothing does."""
    from hapair.fence import ipmitool

    opts = {"ip": "10.0.0.1", "username": "admin", "lanplus": "1"}
    given, on_stdin, env = fa.invocation("fence_ipmilan", opts, "s3cret", "/v/bin/hapair-ipmitool")
    assert on_stdin == "" and "s3cret" not in fa.stdin_text("off", given, on_stdin)
    assert given == {**opts, "ipmitool_path": "/v/bin/hapair-ipmitool"}
    assert env == {ipmitool.PASSWORD_ENV: "s3cret"}
    # the operator's own ipmitool is still the one run
    _, _, env = fa.invocation("fence_idrac", {**opts, "ipmitool_path": "/opt/ipmitool"}, "s3cret",
                              "/v/bin/hapair-ipmitool")
    assert env[ipmitool.REAL_ENV] == "/opt/ipmitool"
    # any other agent: standard input, as before
    assert fa.invocation("fence_redfish", opts, "s3cret", "/w") == (opts, "s3cret", {})


def test_the_wrapper_drops_every_password_argument() -> None:
    from hapair.fence import ipmitool

    # what fence_ipmilan 4.12 runs, split as it splits it (shlex)
    line = "-I lanplus -H 10.0.0.1 -p 623 -U admin -P '' -L ADMINISTRATOR chassis power status"
    import shlex
    assert ipmitool.argv("ipmitool", shlex.split(line)) == [
        "ipmitool", "-E", "-I", "lanplus", "-H", "10.0.0.1", "-p", "623", "-U", "admin",
        "-L", "ADMINISTRATOR", "chassis", "power", "status"]
    assert "x" not in ipmitool.argv("ipmitool", ["-Px", "-P", "x", "chassis"])


@pytest.mark.skipif(not Path("/usr/sbin/fence_ipmilan").exists(),
                    reason="Debian's fence-agents is not installed")
def test_debians_fence_ipmilan_runs_ipmitool_without_the_password(tmp_path: Path) -> None:
    """The real fence_ipmilan, through hapair's wrapper, to a stand-in for
    ipmitool that records its arguments and whether it got the password."""
    import sys

    from hapair.fence import ipmitool

    if not Path(ipmitool.wrapper_path()).exists():
        pytest.skip(f"{ipmitool.SCRIPT} is not installed beside {sys.executable}")
    seen = tmp_path / "seen"
    fake = tmp_path / "ipmitool"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {seen}\necho "env=$IPMI_PASSWORD" >> {seen}\n'
                    'echo "Chassis Power is off"\n')
    fake.chmod(0o755)
    out = fa.run("fence_ipmilan", "status",
                 {"ip": "127.0.0.1", "username": "admin", "ipmitool_path": str(fake)},
                 "secret-pw", timeout=20)
    got = seen.read_text()
    assert out.code == 2, out.said  # the stand-in said off
    args = [line for line in got.splitlines() if not line.startswith("env=")]
    assert args and all("secret-pw" not in a and "-P" not in a.split() for a in args)
    assert all(a.startswith("-E ") for a in args)
    assert "env=secret-pw" in got
