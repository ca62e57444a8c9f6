"""The fence agents' interface (the one Pacemaker and fence_node use): the
options as ``key=value`` lines on standard input, the exit status as the
verdict, ``-o metadata`` for what an agent accepts. Secrets travel on
standard input only: never in a process's arguments, a log line or an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hapair.fence import ipmitool
from hapair.spec.hardware import FENCE_RESERVED

AGENT_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


class Power(StrEnum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"  # the device did not answer, or failed


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool
    type: str  # string, boolean, integer, select, second
    default: str
    aliases: tuple[str, ...] = ()  # deprecated names the agent still accepts


@dataclass(frozen=True)
class AgentMeta:
    name: str
    parameters: dict[str, Parameter]
    actions: frozenset[str]

    def problems(self, options: Mapping[str, str]) -> list[str]:
        """What is wrong with these options for this agent (empty: nothing)."""
        names = {a: p for p in self.parameters.values() for a in (p.name, *p.aliases)}
        out = [f"{k!r} is not an option of {self.name}" for k in options
               if k not in names and k not in FENCE_RESERVED]
        for p in self.parameters.values():
            given = any(a in options for a in (p.name, *p.aliases))
            if p.required and not given and p.name not in FENCE_RESERVED and not p.default:
                out.append(f"{self.name} needs the option {p.name!r}")
        for k, v in options.items():
            kind = names[k].type if k in names else ""
            if kind == "boolean" and v.lower() not in (
                    "0", "1", "true", "false", "on", "off", "yes", "no", ""):
                out.append(f"{k!r} takes true or false, not {v!r}")
            if kind in ("integer", "second") and not _number(v):
                out.append(f"{k!r} takes a number, not {v!r}")
        return out


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_metadata(xml: str) -> AgentMeta:
    """``fence_X -o metadata``: a <resource-agent> with <parameters> and <actions>."""
    root = ET.fromstring(xml)  # noqa: S314 - the output of a local, installed agent
    found = list(root.iter("parameter"))
    # <parameter name="ip" obsoletes="ipaddr">: "ipaddr" (marked deprecated) still works.
    old_names = {p.get("name", ""): p.get("obsoletes", "") for p in found if p.get("obsoletes")}
    deprecated = set(old_names.values())
    params: dict[str, Parameter] = {}
    for p in found:
        name = p.get("name", "")
        if name in deprecated:
            continue
        content = p.find("content")
        params[name] = Parameter(
            name, p.get("required") == "1",
            content.get("type", "string") if content is not None else "string",
            content.get("default", "") if content is not None else "",
            (old_names[name],) if name in old_names else ())
    actions = frozenset(a.get("name", "") for a in root.iter("action"))
    return AgentMeta(root.get("name", ""), params, actions)


def stdin_text(action: str, options: Mapping[str, str], password: str = "") -> str:
    """The agent's standard input: one ``key=value`` a line (values have no
    newline: the spec refuses them)."""
    lines = [f"action={action}"] + [f"{k}={v}" for k, v in sorted(options.items())]
    if password:
        lines.append(f"password={password}")
    return "\n".join(lines) + "\n"


def power_of(action: str, code: int) -> Power:
    """The verdict of ``status``: 0 on, 2 off, anything else unknown."""
    if action != "status":
        raise ValueError(f"power_of reads the status action, not {action!r}")
    return {0: Power.ON, 2: Power.OFF}.get(code, Power.UNKNOWN)


class FenceError(Exception):
    """A fence agent failed or could not be run; the message holds no secret."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: int
    seconds: float
    said: str  # the agent's last line on stderr or stdout, secrets scrubbed


def _last_line(text: str) -> str:
    """The last line that says something (Python's warnings on stderr do not)."""
    lines = [x.strip() for x in text.splitlines() if x.strip()
             and "Warning" not in x and not x.strip().startswith("from ")]
    return lines[-1] if lines else ""


def locate(agent: str) -> str:
    """The agent's path; FenceError when it is not installed."""
    for candidate in (agent, *(f"{d}/{agent}" for d in AGENT_DIRS)):
        found = shutil.which(candidate)
        if found:
            return found
    raise FenceError(f"fence agent {agent} is not installed (Debian: fence-agents)")


def invocation(agent: str, options: Mapping[str, str], password: str,
               wrapper: str) -> tuple[dict[str, str], str, dict[str, str]]:
    """(options, the password for standard input, the environment to add)
    for one call (pure). An agent built on ipmitool gets its password in the
    environment, and ipmitool_path naming hapair's wrapper (ipmitool.py says
    why); every other agent, on standard input."""
    if agent not in ipmitool.AGENTS or not password:
        return dict(options), password, {}
    real = options.get("ipmitool_path", "")
    env = {ipmitool.PASSWORD_ENV: password, **({ipmitool.REAL_ENV: real} if real else {})}
    return {**options, "ipmitool_path": wrapper}, "", env


def run(agent: str, action: str, options: Mapping[str, str], password: str = "",
        timeout: float = 30.0) -> Outcome:
    """Run one action. FenceError when the agent is missing or hangs."""
    path = locate(agent)
    given, on_stdin, extra = invocation(agent, options, password, ipmitool.wrapper_path())
    started = time.monotonic()
    try:
        r = subprocess.run([path], input=stdin_text(action, given, on_stdin),
                           capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **extra} if extra else None)
    except subprocess.TimeoutExpired:
        raise FenceError(f"{agent} {action}: no verdict within {timeout:g}s") from None
    said = _last_line(r.stdout) or _last_line(r.stderr)
    if r.returncode not in (0, 2):
        said = _last_line(r.stderr) or said
    if password:
        said = said.replace(password, "***")
    return Outcome(r.returncode == 0 if action != "status" else r.returncode in (0, 2),
                   r.returncode, time.monotonic() - started, said[:200])


def metadata(agent: str, timeout: float = 20.0) -> AgentMeta:
    path = locate(agent)
    try:
        r = subprocess.run([path, "-o", "metadata"], capture_output=True, text=True,
                           timeout=timeout)
        return parse_metadata(r.stdout)
    except (subprocess.TimeoutExpired, ET.ParseError) as exc:
        raise FenceError(f"{agent} -o metadata gave no metadata ({exc})") from None
