"""The names the agent, its metrics and the operator's tools share: a node's
role, and the conditions `hapair status` explains with a hint."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PRIMARY = "primary"
    PRIMARY_PAUSED = "primary (writes paused)"  # the primary by epoch, read-only for now
    PRIMARY_FENCED = "primary (fenced)"  # writable a moment ago, closing now
    REPLICA = "replica"
    CANDIDATE = "candidate"  # holds the VIP, about to promote
    PROMOTING = "promoting"
    FENCING = "fencing the peer"  # powering the peer off through its fence device
    REBUILDING = "rebuilding"
    PAUSED = "paused"  # the operator stopped automatic role changes
    DOWN = "down"  # the local database does not answer
    STARTING = "starting"


class Condition(StrEnum):
    """Why a node is in a state an operator may have to act on."""

    NONE = ""
    STANDBY_LOST = "standby-lost"  # the primary paused writes: its standby is unreachable
