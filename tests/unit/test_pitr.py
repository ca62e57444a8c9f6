"""Point-in-time recovery's decisions (pure) and the agent's parsers of the
binary logs' listings, on output captured from the lab's MariaDB 10.11."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hapair.agent.api.restore import parse_binary_logs, parse_events
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


def test_every_binary_log_s_beginning_comes_from_one_call(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from hapair.agent.api import restore

    asked: list[str] = []
    answers = {"SHOW BINARY LOGS": (FIX / "show-binary-logs.txt").read_text()}

    def fake(sql: str) -> str:
        asked.append(sql)
        return answers.get(sql) or ((FIX / "binlog-events-rebuilt.txt").read_text()
                                    + (FIX / "binlog-events-rotated.txt").read_text())

    monkeypatch.setattr(restore, "_mariadb", fake)
    assert restore.binlogs() == [
        {"name": "mariadb-bin.000001", "size": 2506, "start": "", "first": "0-1-32619"},
        {"name": "mariadb-bin.000002", "size": 405, "start": "0-1-32619,0-2-32621",
         "first": ""}]
    assert len(asked) == 2
