"""hapair backup's choices (pure): where from, what a folder says, what goes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hapair.model.status import NodeStatus
from hapair.ops.backup import (
    PARTIAL,
    BackupError,
    BackupInfo,
    choose_source,
    folder_name,
    good,
    listing,
    size,
    timer_units,
    to_remove,
    write_info,
)
from tests.unit.test_ops_report import node


def info(**kw: object) -> BackupInfo:
    base: dict[str, object] = {"cluster": "pair", "node": "node2", "taken_at": "t",
                               "took_s": 1.0, "gtid": "0-1-5", "db_bytes": 1, "files_bytes": 1,
                               "verified": True}
    return BackupInfo.model_validate(base | kw)


def test_the_standby_is_the_source_never_the_primary_unless_named() -> None:
    primary = node("node1", read_only=False, role="primary")
    standby = node("node2", complete=True)
    assert choose_source([primary, standby]) == ("node2", "the standby, a complete replica")
    behind = node("node2", complete=False)
    with pytest.raises(BackupError, match="no complete standby.*node1: primary.*--from"):
        choose_source([primary, behind])
    assert choose_source([primary, behind], "node1") == ("node1", "asked for by name")
    with pytest.raises(BackupError, match="--from node2: its agent does not answer"):
        choose_source([primary, NodeStatus("node2", None, "unreachable")], "node2")


def test_folders_are_named_by_utc_time_and_sort_by_it() -> None:
    when = dt.datetime(2026, 11, 26, 19, 5, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert folder_name("pair", when) == "pair-20261126T180507Z"


def test_listing_reads_each_folder_and_marks_the_bad_ones(tmp_path: Path) -> None:
    for name, i in (("pair-20260101T000000Z", info()),
                    ("pair-20260102T000000Z", info(verified=False, problem="prepare")),
                    ("other-20260101T000000Z", info(cluster="other"))):
        (tmp_path / name).mkdir()
        write_info(tmp_path / name, i)
    (tmp_path / f"pair-20260103T000000Z{PARTIAL}").mkdir()
    found = listing(tmp_path, "pair")
    assert [p.name for p, _ in found] == ["pair-20260101T000000Z", "pair-20260102T000000Z",
                                          f"pair-20260103T000000Z{PARTIAL}"]
    assert [good(e) for e in found] == [True, False, False]
    assert found[2][1] is None
    assert listing(tmp_path / "none", "pair") == []


def test_retention_keeps_the_newest_good_ones_and_newer_failures() -> None:
    def e(day: int, ok: bool = True, partial: bool = False) -> tuple[Path, BackupInfo | None]:
        name = f"pair-202601{day:02d}T000000Z" + (PARTIAL if partial else "")
        return Path(name), (None if partial else info(verified=ok))
    entries = [e(1), e(2, ok=False), e(3), e(4, partial=True), e(5), e(6, ok=False), e(7)]
    assert [p.name[5:13] for p in to_remove(entries, keep=2)] == [
        "20260101", "20260102", "20260103", "20260104"]
    assert to_remove(entries, keep=10) == []
    assert to_remove([e(1, ok=False)], keep=1) == []  # no good one: nothing goes


def test_the_timer_runs_hapair_backup_on_the_schedule() -> None:
    units = timer_units("pair", "*-*-* 02:30", ["/opt/py", "-m", "hapair", "backup",
                                                 "/etc/my specs/pair.toml"], 15)
    assert set(units) == {"hapair-backup-pair.service", "hapair-backup-pair.timer",
                          "hapair-binlogs-pair.service"}
    assert "ExecStart=/opt/py -m hapair backup '/etc/my specs/pair.toml'\n" in units[
        "hapair-backup-pair.service"]
    timer = units["hapair-backup-pair.timer"]
    assert "OnCalendar=*-*-* 02:30\n" in timer and "Persistent=true" in timer
    # The binary logs: archived all along, by a service that restarts.
    archiver = units["hapair-binlogs-pair.service"]
    assert ("ExecStart=/opt/py -m hapair backup '/etc/my specs/pair.toml' --binlogs "
            "--follow 15\n") in archiver and "Restart=always" in archiver


@pytest.mark.parametrize("schedule", ["daily\nExecStart=/bin/sh", "daily; rm -rf /", "$(x)"])
def test_a_schedule_cannot_reach_the_unit_file(schedule: str) -> None:
    from pydantic import ValidationError

    from hapair.spec.models import Backup
    with pytest.raises(ValidationError):
        Backup(schedule=schedule)


def test_sizes_for_a_person() -> None:
    assert [size(n) for n in (0, 512, 3_400, 18_400_000, 2_100_000_000)] == [
        "0 B", "512 B", "3.4 kB", "18.4 MB", "2.1 GB"]


def test_a_restore_of_the_same_version_is_marked_upgraded() -> None:
    """Debian's start script must not upgrade the system tables of a data
    directory restored from a server of the same version (its ALTER TABLE
    of mysql.event waited for good on the lease watch's event)."""
    from hapair.agent.node.rebuild import upgrade_info

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "mariadb"
    info = (fixtures / "xtrabackup_info-10.11.txt").read_text()
    version = (fixtures / "mariadbd-version-10.11.txt").read_text()
    assert upgrade_info(info, version) == "10.11.19-MariaDB\n"  # as mariadb-upgrade writes it
    newer = version.replace("10.11.19", "10.11.20")
    assert upgrade_info(info, newer) is None  # another version: the upgrade must run
    assert upgrade_info("", version) is None


def test_a_backup_whose_commit_block_waits_too_long_is_stopped() -> None:
    from hapair.agent.node.backup_stream import blocking_too_long

    rows = [{"id": 51, "ms": 339120.5}, {"id": 52, "ms": 400.0}, {"id": 53, "ms": None}]
    assert blocking_too_long(rows, 1.0) == [51]
    assert blocking_too_long([], 1.0) == []
