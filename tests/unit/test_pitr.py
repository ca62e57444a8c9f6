"""Point-in-time recovery's decisions (pure) and the agent's parsers of the
binary logs' listings, on output captured from the lab's MariaDB 10.11."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from hapair.agent.api.restore import parse_binary_logs, parse_events
from hapair.binlog import HEAD, identity
from hapair.ops.backup import BackupInfo
from hapair.ops.pitr import (
    Archive,
    Logged,
    PitrError,
    another_history,
    choose_archive,
    choose_backup,
    parse_moment,
    read_archive,
    to_fetch,
    write_archive,
)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "mariadb"
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


def test_binary_logs_and_their_first_events_are_read_from_mariadb_s_own_output() -> None:
    assert parse_binary_logs((FIX / "show-binary-logs.txt").read_text()) == [
        ("mariadb-bin.000001", 2506), ("mariadb-bin.000002", 405)]
    # A rebuilt (or restored) node's first file: an empty state, its first
    # transaction says where its history begins.
    assert parse_events((FIX / "binlog-events-rebuilt.txt").read_text()) == ("", "0-1-32619")
    # A rotated file: the last GTID of each server; no transaction yet.
    assert parse_events((FIX / "binlog-events-rotated.txt").read_text()) == (
        "0-1-32619,0-2-32621", "")


def test_a_grouped_commit_s_gtid_is_read_without_its_commit_id() -> None:
    line = "mariadb-bin.000002\t299\tGtid\t1\t341\tBEGIN GTID 0-1-31391 cid=32\n"
    assert parse_events(line) == ("", "0-1-31391")


def logged(name: str, start: str = "", first: str = "", size: int = 100) -> Logged:
    return Logged(name=f"mariadb-bin.{name}", start=start, first=first, size=size)


@pytest.mark.parametrize(("f", "position", "covers"), [
    (logged("000001", first="0-1-11"), "0-1-10", True),  # the next transaction is here
    (logged("000001", first="0-1-12"), "0-1-10", False),  # 0-1-11 is missing
    (logged("000001", first="0-2-5"), "0-1-10", True),  # an earlier one, another server
    # A Gtid_list names each server's last GTID: the state is the highest.
    (logged("000002", start="0-2-30412,0-1-31390"), "0-2-31390", True),
    (logged("000002", start="0-2-30412,0-1-31390"), "0-2-31000", False),
    (logged("000001", start=""), "0-1-10", False),  # nothing says where it begins
])
def test_a_file_begins_by_a_position_when_nothing_after_it_is_missing(
        f: Logged, position: str, covers: bool) -> None:
    assert f.begins_by(position) is covers


def test_only_what_is_new_is_fetched_and_a_rebuilt_node_is_another_history() -> None:
    archive = Archive(node="node1", files=[logged("000001", first="0-1-5", size=100),
                                           logged("000002", start="0-1-9", size=50)])
    listed = [logged("000001", first="0-1-5", size=100),
              logged("000002", start="0-1-9", first="0-1-10", size=80),
              logged("000003", start="0-1-20", size=10)]
    assert [(f.name[-6:], start) for f, start in to_fetch(archive, listed)] == [
        ("000002", 50), ("000003", 0)]
    assert not another_history(archive, listed)
    rebuilt = [logged("000001", first="0-2-40", size=30)]
    assert another_history(archive, rebuilt)


def test_a_new_cluster_under_an_old_name_is_another_history_though_it_begins_alike() -> None:
    """A new lab (or cluster) begins its first file as the last one did: the
    same empty state, the same first GTID. Its identity, or its being
    shorter than the copy, tells them apart; the archive never replays the
    old one's transactions into the new one's restore."""
    archive = Archive(node="node1", files=[logged("000001", first="0-1-1", size=38623)
                                           .model_copy(update={"made": "1796654886-1"})])
    again = logged("000001", first="0-1-1", size=38623)
    assert not another_history(archive, [again])  # an older agent's listing: no identity
    assert another_history(archive, [again.model_copy(update={"made": "1796670000-1"})])
    assert another_history(archive, [again.model_copy(update={"size": 9000})])
    assert not another_history(archive, [again.model_copy(update={"made": "1796654886-1",
                                                                  "size": 40000})])


def test_a_binary_log_s_identity_is_read_from_its_first_bytes() -> None:
    head = (FIX / "binlog-head.bin").read_bytes()  # from the lab's MariaDB 10.11
    assert identity(head) == "1796655016-99"  # 2026-12-07 14:50:16 UTC, server 99
    assert identity(head[:HEAD]) == identity(head)
    assert identity(head[:HEAD - 1]) == ""
    assert identity(b"\x00bin" + head[4:]) == ""  # not a binary log
    assert identity(head[:8] + b"\x02" + head[9:]) == ""  # its first event is another


def test_the_archive_s_index_survives_a_round_trip_and_a_broken_one_is_empty(
        tmp_path: Path) -> None:
    a = Archive(node="node2", files=[logged("000001", first="0-1-5")],
                fetched_at=NOW.isoformat())
    write_archive(tmp_path, a)
    assert read_archive(tmp_path, "node2") == a
    (tmp_path / "index.json").write_text("{not json")
    assert read_archive(tmp_path, "node2") == Archive(node="node2")


def backup(taken: dt.datetime, took: float = 10.0, verified: bool = True,
           gtid: str = "0-1-10") -> BackupInfo:
    return BackupInfo(cluster="pair", node="node2", taken_at=taken.isoformat(), took_s=took,
                      gtid=gtid, db_bytes=1, files_bytes=1, verified=verified)


def test_the_backup_is_the_newest_good_one_finished_before_the_moment() -> None:
    early, late = backup(NOW - dt.timedelta(hours=2)), backup(NOW - dt.timedelta(seconds=5))
    bad = backup(NOW - dt.timedelta(hours=1), verified=False)
    assert choose_backup([early, bad, late], NOW - dt.timedelta(minutes=1)) == early
    # late finished at NOW + 5 s: after the moment, so not late.
    assert choose_backup([early, late], NOW) == early
    assert choose_backup([early, late], NOW + dt.timedelta(seconds=6)) == late
    with pytest.raises(PitrError, match="no good backup"):
        choose_backup([bad, late], NOW - dt.timedelta(hours=3))


def test_the_archive_must_hold_the_position_and_reach_past_the_moment() -> None:
    files = [logged("000001", first="0-1-1"), logged("000002", start="0-1-50"),
             logged("000003", start="0-1-90")]
    fresh = Archive(node="node1", files=files, fetched_at=NOW.isoformat())
    stale = Archive(node="node2", files=files,
                    fetched_at=(NOW - dt.timedelta(hours=1)).isoformat())
    a, chain = choose_archive([stale, fresh], "0-1-60", NOW - dt.timedelta(minutes=1))
    assert a.node == "node1" and [f.name[-1] for f in chain] == ["2", "3"]
    # The primary's first, when both would do.
    both = [fresh, fresh.model_copy(update={"node": "node2"})]
    assert choose_archive(both, "0-1-60", NOW, prefer="node2")[0].node == "node2"
    with pytest.raises(PitrError, match="before the moment"):
        choose_archive([stale], "0-1-60", NOW - dt.timedelta(minutes=1))
    late = Archive(node="node1", files=[logged("000004", first="0-1-200")],
                   fetched_at=NOW.isoformat())
    with pytest.raises(PitrError, match="after the backup"):
        choose_archive([late], "0-1-60", NOW)
    holed = Archive(node="node1", files=[files[0], files[2]], fetched_at=NOW.isoformat())
    with pytest.raises(PitrError, match="missing"):
        choose_archive([holed], "0-1-10", NOW)


def test_a_moment_without_a_zone_is_this_host_s_and_nonsense_names_the_option() -> None:
    assert parse_moment("2026-11-26T14:05:00+01:00") == dt.datetime(2026, 11, 26, 13, 5,
                                                                     tzinfo=UTC)
    assert parse_moment("2026-11-26 14:05", UTC) == dt.datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
    with pytest.raises(PitrError, match="--at 'yesterday'"):
        parse_moment("yesterday")


def test_the_listing_says_how_far_back_a_restore_can_go() -> None:
    from hapair.ops.pitr import reach

    old = backup(NOW - dt.timedelta(hours=5), gtid="0-1-5")  # before the archive begins
    kept = backup(NOW - dt.timedelta(hours=1), gtid="0-1-60")
    archived = Archive(node="node1", files=[logged("000002", start="0-1-50")],
                       fetched_at=NOW.isoformat())
    said = reach([old, kept], [archived])
    assert "from 2026-11-26T20:00:10" in said and "to 2026-11-26T21:00:00" in said
    assert "only to a backup's own moment" in reach([kept], [])


def test_every_binary_log_s_beginning_comes_from_one_call(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    from hapair.agent.api import restore

    asked: list[str] = []
    answers = {"SHOW BINARY LOGS": (FIX / "show-binary-logs.txt").read_text()}

    def fake(sql: str) -> str:
        asked.append(sql)
        return answers.get(sql) or ((FIX / "binlog-events-rebuilt.txt").read_text()
                                    + (FIX / "binlog-events-rotated.txt").read_text())

    monkeypatch.setattr(restore, "_mariadb", fake)
    (tmp_path / "mariadb-bin.000001").write_bytes((FIX / "binlog-head.bin").read_bytes())
    assert restore.binlogs(str(tmp_path)) == [
        {"name": "mariadb-bin.000001", "size": 2506, "start": "", "first": "0-1-32619",
         "made": "1796655016-99"},
        {"name": "mariadb-bin.000002", "size": 405, "start": "0-1-32619,0-2-32621",
         "first": "", "made": ""}]  # not there to read: no identity
    assert len(asked) == 2


class _Node:
    name = "node1"


class _Agents:
    """The node's agent, as archive_node reads it: its listing and its files."""

    def __init__(self, files: dict[str, bytes], made: str) -> None:
        self.files, self.made = files, made

    @contextlib.contextmanager
    def stream(self, node: object, path: str, timeout: float = 60.0) -> Iterator[IO[bytes]]:
        if path == "/binlogs":
            yield io.BytesIO(json.dumps([
                {"name": n, "size": len(b), "start": "", "first": "0-1-1", "made": self.made}
                for n, b in self.files.items()]).encode())
            return
        name, start = path.removeprefix("/binlogs/").split("?from=")
        yield io.BytesIO(self.files[name][int(start):])


def test_an_archive_from_before_identities_is_set_aside_when_a_new_cluster_begins_alike(
        tmp_path: Path) -> None:
    """The old index has no identities: they are read from the archived
    copies. The new cluster's file is longer than the old copy and begins at
    the same GTID: without its identity it would be appended to the old one."""
    from hapair.ops import archive

    head = (FIX / "binlog-head.bin").read_bytes()
    folder = archive.folder_of(tmp_path, "node1")
    folder.mkdir(parents=True)
    (folder / "mariadb-bin.000001").write_bytes(head + b"old" * 10)
    write_archive(folder, Archive(node="node1", files=[
        logged("000001", first="0-1-1", size=len(head) + 30)], fetched_at=NOW.isoformat()))
    later = head[:4] + (int.from_bytes(head[4:8], "little") + 3600).to_bytes(4, "little")
    new = later + head[8:] + b"new" * 40
    said: list[str] = []
    got = archive.archive_node(_Agents({"mariadb-bin.000001": new}, identity(new)),  # type: ignore[arg-type]
                               _Node(), tmp_path, said.append)  # type: ignore[arg-type]
    assert got == (1, len(new))
    assert (folder / "mariadb-bin.000001").read_bytes() == new
    assert "began again" in said[0]
    aside = [p for p in folder.parent.iterdir() if p.name.startswith("node1.")]
    assert len(aside) == 1 and (aside[0] / "mariadb-bin.000001").read_bytes().endswith(b"old")
    assert read_archive(folder, "node1").files[0].made == identity(new)
    # Fetched again with nothing new: the same history, nothing set aside.
    assert archive.archive_node(_Agents({"mariadb-bin.000001": new}, identity(new)),  # type: ignore[arg-type]
                                _Node(), tmp_path, said.append) == (0, 0)  # type: ignore[arg-type]
    assert len(said) == 1
