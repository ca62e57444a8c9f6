"""The timing inequality (docs/controller.md): a standby may open only once
the primary has certainly closed itself, by every path it has, with a
margin to spare. Pure; the terms that are not spec fields are measured
facts of the agent and the node, named here with where they come from.

The primary's lease runs from the send time S of its last renewal (an
answered poll of the standby, or the witness's accepted rewrite); the
standby counts from the arrival of a sign of the primary, never earlier
than S, and opens at S + lease + margin at the earliest. The primary
closes itself:

1. by the lease watch inside its database (agent/node/db_lease.py): at
   S + lease + LEASE_WATCH_S + DB_CLOSE_S, whatever its agent, systemd or
   the host's scheduler are doing. So margin >= LEASE_WATCH_S + DB_CLOSE_S
   + SAFETY_S.
2. by systemd's watchdog and the stop hook when its agent froze at T (its
   last ping; its last renewal was sent at most one interval earlier,
   S >= T - interval): at T + watchdog + STOP_HOOK_S. So watchdog +
   STOP_HOOK_S + SAFETY_S <= lease + margin - interval.

(A live agent's guard closes it at S + lease + one tick: path 1 bounds it.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from hapair.spec.issues import Finding

if TYPE_CHECKING:
    from hapair.spec.models import Timing

LEASE_WATCH_S = 0.02  # the database's lease watch looks this often (agent/node/db_lease.py)
# `SET GLOBAL read_only` with no commit stuck: a few milliseconds (measured on
# the lab: 3-6 ms); the bound leaves ten times that for a busy server.
DB_CLOSE_S = 0.05
# The stop hook (render/systemd.py): its read_only bounded at 0.2 s
# (max_statement_time), after starting the mariadb client (measured 17-24 ms).
STOP_HOOK_S = 0.25
SAFETY_S = 0.1  # what is left over for a host that schedules late


def findings(t: Timing) -> Iterator[Finding]:
    """What in the timing lets the standby open before the primary has
    closed, or makes a healthy primary close itself; each names its field."""
    closing = LEASE_WATCH_S + DB_CLOSE_S + SAFETY_S
    if t.margin_s < closing:
        yield Finding(
            ("timing", "margin_s"),
            f"{t.margin_s:g}s is shorter than the primary's database takes to close itself "
            f"once its lease ends ({LEASE_WATCH_S:g}s lease watch + {DB_CLOSE_S:g}s "
            f"read_only + {SAFETY_S:g}s to spare = {closing:g}s): the standby could open "
            "while the primary is still writable")
    opens = t.lease_s + t.margin_s - t.agent_interval_s
    closes = t.watchdog_s + STOP_HOOK_S + SAFETY_S
    if closes > opens + 1e-9:
        yield Finding(
            ("timing", "watchdog_s"),
            f"a frozen agent's database closes {closes:g}s after its last ping (watchdog_s "
            f"{t.watchdog_s:g}s + {STOP_HOOK_S:g}s stop hook + {SAFETY_S:g}s to spare), but "
            f"the standby may open {opens:g}s after it (lease_s + margin_s - "
            "agent_interval_s): lower watchdog_s or raise lease_s or margin_s")
    if t.lease_s < 2 * t.agent_interval_s:
        yield Finding(
            ("timing", "lease_s"),
            f"{t.lease_s:g}s is shorter than two renewals (agent_interval_s "
            f"{t.agent_interval_s:g}s): one late poll would stop writes")
