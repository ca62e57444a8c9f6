"""Which Python a node runs, read by a probe (outputs captured on a lab
machine, and on this host with python3, then also apt-cache, hidden), and
which wheels fit it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hapair.deploy.wheels import WheelError, Wheelhouse, check_fit, platform_tags, this_target
from hapair.probes.python import ProbeError, Target, parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "python"
BOOKWORM = Target((3, 11), "x86_64", (2, 36))
TRIXIE = Target((3, 13), "x86_64", (2, 41))


def test_a_debian_12_machine_runs_cpython_3_11_on_glibc_2_36() -> None:
    target = parse((FIXTURES / "debian12-container.txt").read_text())
    assert target == BOOKWORM
    assert target.tag == "cp311-x86_64-glibc2.36"
    assert str(target) == "CPython 3.11 on x86_64 (glibc 2.36)"


def test_without_python3_the_version_is_the_one_apt_would_install() -> None:
    assert parse((FIXTURES / "debian12-no-python3.txt").read_text()) == BOOKWORM


def test_no_python3_and_no_apt_is_a_clear_error() -> None:
    with pytest.raises(ProbeError, match="no /usr/bin/python3 and apt offers no python3"):
        parse((FIXTURES / "no-python3-no-apt.txt").read_text())


def test_another_c_library_has_no_glibc_version() -> None:
    target = parse("python 3.12\nmachine aarch64\nlibc \n")
    assert target == Target((3, 12), "aarch64", None) and target.tag.endswith("other-libc")


def test_this_host_is_described_as_the_probe_would() -> None:
    assert this_target() == parse((FIXTURES / "debian12-container.txt").read_text())


def test_manylinux_platforms_go_down_from_the_glibc_version() -> None:
    tags = platform_tags(BOOKWORM)
    assert tags[0] == "manylinux_2_36_x86_64" and tags[-1] == "manylinux1_x86_64"
    assert "manylinux2014_x86_64" in tags and "manylinux_2_17_x86_64" in tags
    assert not any(t.startswith("manylinux_2_37") for t in tags)
    assert platform_tags(Target((3, 12), "aarch64", None)) == []


@pytest.mark.parametrize(("wheel", "target", "fits"), [
    ("rich-15.0.0-py3-none-any.whl", TRIXIE, True),
    ("pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
     BOOKWORM, True),
    ("pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
     TRIXIE, False),  # built for 3.11: 3.13 cannot load it
    ("argon2_cffi_bindings-26.2.0-cp310-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl",
     TRIXIE, True),  # the stable ABI of 3.10 and later
    ("x-1-cp313-cp313-manylinux_2_39_x86_64.whl", TRIXIE, True),
    ("x-1-cp311-cp311-manylinux_2_39_x86_64.whl", BOOKWORM, False),  # glibc too old
    ("x-1-cp313-cp313-manylinux_2_17_aarch64.whl", TRIXIE, False),  # another machine
])
def test_a_wheel_fits_only_a_python_that_can_load_it(tmp_path: Path, wheel: str, target: Target,
                                                     fits: bool) -> None:
    house = Wheelhouse(tmp_path, (tmp_path / wheel,))
    if fits:
        check_fit(house, target)
    else:
        with pytest.raises(WheelError, match=f"{wheel} does not fit CPython"):
            check_fit(house, target)


def test_a_wheel_built_here_fits_only_this_very_platform(tmp_path: Path) -> None:
    house = Wheelhouse(tmp_path, (tmp_path / "x-1-cp311-cp311-linux_x86_64.whl",))
    check_fit(house, BOOKWORM, built_here=True)
    with pytest.raises(WheelError, match="does not fit"):
        check_fit(house, BOOKWORM)


def test_prebuilt_wheels_are_used_as_they_are_or_named_missing(tmp_path: Path) -> None:
    from hapair.deploy.wheels import prebuilt

    with pytest.raises(WheelError, match="no wheels for CPython 3.13 .* cp313-x86_64-glibc2.41"):
        prebuilt(tmp_path, TRIXIE, app=True)
    (tmp_path / TRIXIE.tag / "hapair").mkdir(parents=True)
    (tmp_path / TRIXIE.tag / "hapair" / "hapair-0.1.0-py3-none-any.whl").write_bytes(b"w")
    (tmp_path / TRIXIE.tag / "hapair" / "pydantic_core-2-cp311-cp311-manylinux_2_17_x86_64.whl"
     ).write_bytes(b"w")
    with pytest.raises(WheelError, match="pydantic_core.* does not fit CPython 3.13"):
        prebuilt(tmp_path, TRIXIE, app=False)
    (tmp_path / TRIXIE.tag / "hapair" / "pydantic_core-2-cp311-cp311-manylinux_2_17_x86_64.whl"
     ).unlink()
    app, agent = prebuilt(tmp_path, TRIXIE, app=False)
    assert app is None and [w.name for w in agent.wheels] == ["hapair-0.1.0-py3-none-any.whl"]
