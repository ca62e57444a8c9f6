"""A MariaDB binary log file's identity, from its first bytes (pure): the
magic number, then the Format_description event, whose common header holds
when the file was begun and by which server. Two files of the same name
with another identity are two histories (a node rebuilt, or a new cluster
under an old name): the archive never appends one to the other."""

from __future__ import annotations

import struct
from pathlib import Path

MAGIC = b"\xfebin"
HEAD = 13  # the magic, then the event's timestamp (4 bytes), type (1) and server id (4)
FORMAT_DESCRIPTION = 15


def identity(head: bytes) -> str:
    """"<the UTC second it was begun>-<server id>"; "" for bytes that are not
    the start of a binary log (too short, another magic, another event)."""
    if len(head) < HEAD or not head.startswith(MAGIC):
        return ""
    when, kind, server = struct.unpack_from("<IBI", head, len(MAGIC))
    return f"{when}-{server}" if kind == FORMAT_DESCRIPTION else ""


def file_identity(path: Path) -> str:
    """identity() of a file's first bytes; "" when it cannot be read."""
    try:
        with path.open("rb") as f:
            return identity(f.read(HEAD))
    except OSError:
        return ""
