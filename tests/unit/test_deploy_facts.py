"""apply's facts run as shell on the node: each command, run here by a real
/bin/sh on files with hostile names (spaces, quotes, $(), backticks, a
leading dash), reads what it should and runs nothing it was handed."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hapair.deploy.facts import FileDigests, FileText, FileTexts, Gluster, KernelHas, Passwd, Unit

HOSTILE = ("plain.txt", "with space.txt", "it's \"quoted\".txt", "$(touch PWNED).txt",
           "`touch PWNED`.txt", "-n.txt", "semi;colon&amp.txt")


def sh(command: str, cwd: Path) -> list[str]:
    r = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, cwd=cwd,
                       timeout=10, check=False)
    return r.stdout.splitlines()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    texts = {}
    for i, name in enumerate(HOSTILE):
        path = tmp_path / name
        path.write_text(f"line {i}\nsecond line\n")
        os.chmod(path, 0o640)
        texts[str(path)] = path.read_text()
    return texts


def test_file_texts_and_digests_read_hostile_names_and_run_none(files: dict[str, str],
                                                               tmp_path: Path) -> None:
    paths = (*files, str(tmp_path / "missing file"))
    fact = FileTexts()
    assert fact.process(sh(fact.command(paths), tmp_path)) == {**files, paths[-1]: ""}
    digests = FileDigests()
    got = digests.process(sh(digests.command(paths), tmp_path))
    assert got == {p: (hashlib.sha256(t.encode()).hexdigest(), "640") for p, t in files.items()}
    one = FileText()
    for path, text in files.items():
        assert one.process(sh(one.command(path), tmp_path)) == text.rstrip("\n")
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_passwd_takes_a_hostile_name_as_a_name(tmp_path: Path) -> None:
    fact = Passwd()
    assert fact.process(sh(fact.command("root"), tmp_path)) is not None
    assert fact.process(sh(fact.command("$(touch PWNED)"), tmp_path)) is None
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(("fact", "word"), [
    (Gluster(), "{}"), (Unit(), "{}"), (KernelHas(), "/sys/module/{}"), (Passwd(), "{}"),
    (FileText(), "{}")])
def test_a_facts_argument_reaches_its_command_as_one_word(fact: Any, word: str) -> None:
    """Every fact that takes a value gives it to the shell whole (the
    volume's name went in unquoted)."""
    for value in HOSTILE:
        assert word.format(value) in shlex.split(fact.command(value)), value
