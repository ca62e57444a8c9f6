"""Why apply could not reach a host over SSH, in one line per host, from
pyinfra's connect errors (pure: tested on the errors it really raises).

A host key refusal is told apart from the rest: it is the operator's input
(known_hosts, or --accept-new-host-keys) that stops the apply, not the
network, and it is the one failure where going on could hand every secret
to a machine in the middle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Refusal = Literal["unknown", "changed"]

HOST_KEY_HINT = ("a host key not in known_hosts is never trusted on first contact: check it "
                 "(`ssh-keyscan`, against the server's own console) and add it, or pass "
                 "--accept-new-host-keys")


def host_key_refusal(error: str) -> Refusal | None:
    """'unknown' (no key for the host in known_hosts), 'changed' (a key there,
    another offered) or None (any other failure), from pyinfra's ConnectError
    text, e.g. "SSH error (StrictPolicy: No host key for 10.99.0.11 found in
    known_hosts)" or "SSH host key error (Host key for 10.99.0.11 does not
    match.)"."""
    if "No host key for" in error and "found in known_hosts" in error:
        return "unknown"
    if error.startswith("SSH host key error") or "does not match" in error:
        return "changed"
    return None


def refusals(errors: Mapping[str, str]) -> dict[str, Refusal]:
    """The hosts (by the caller's label) whose connection a host key stopped."""
    found = {host: host_key_refusal(text) for host, text in errors.items()}
    return {host: kind for host, kind in found.items() if kind is not None}


def unreachable_line(errors: Mapping[str, str]) -> str:
    """One line: each host and why it was not reached; for host keys, what
    to do. `errors` maps a host's label (name and address) to pyinfra's
    error, or to "" when none was reported."""
    keys = refusals(errors)
    parts = []
    for host, text in errors.items():
        kind = keys.get(host)
        if kind == "unknown":
            parts.append(f"{host}: its host key is not in known_hosts")
        elif kind == "changed":
            parts.append(f"{host}: its host key is not the one in known_hosts (another "
                         "machine, or a reinstalled server)")
        else:
            parts.append(f"{host}: {' '.join(text.split()) or 'no answer'}")
    hint = f"; {HOST_KEY_HINT}" if keys else ""
    return f"cannot reach over SSH: {'; '.join(parts)}; nothing was changed{hint}"
