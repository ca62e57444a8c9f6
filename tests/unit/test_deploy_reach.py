"""apply's one line when a host is not reached, from pyinfra's connect errors
(the texts pyinfra 3 raises, as the lab's host-key test saw them)."""

import logging

import pytest

from hapair.deploy.reach import host_key_refusal, refusals, unreachable_line

UNKNOWN = "SSH error (StrictPolicy: No host key for 10.99.0.11 found in known_hosts)"
CHANGED = "SSH host key error (Host key for 10.99.0.11 does not match.)"
REFUSED = "Could not connect ([Errno 111] Connection refused)"
TIMEOUT = "Could not connect (timed out)"


def test_a_host_key_refusal_is_told_apart_from_the_network() -> None:
    assert host_key_refusal(UNKNOWN) == "unknown"
    assert host_key_refusal(CHANGED) == "changed"
    assert host_key_refusal(REFUSED) is None
    assert host_key_refusal(TIMEOUT) is None
    assert host_key_refusal("") is None


def test_one_line_names_each_host_and_why_and_what_to_do_for_keys() -> None:
    errors = {"node1 (root@10.99.0.11:22)": CHANGED, "node2 (root@10.99.0.12:22)": REFUSED}
    line = unreachable_line(errors)
    assert "\n" not in line
    assert refusals(errors) == {"node1 (root@10.99.0.11:22)": "changed"}
    assert "node1 (root@10.99.0.11:22): its host key is not the one in known_hosts" in line
    assert "node2 (root@10.99.0.12:22): Could not connect ([Errno 111] Connection refused)" in line
    assert "nothing was changed" in line and "--accept-new-host-keys" in line


def test_without_a_key_refusal_no_key_advice_and_a_silent_host_is_said_so() -> None:
    line = unreachable_line({"witness (root@10.99.0.13:22)": ""})
    assert line == ("cannot reach over SSH: witness (root@10.99.0.13:22): no answer; "
                    "nothing was changed")


def test_pyinfra_s_beta_notice_stays_off_the_terminal(caplog: pytest.LogCaptureFixture) -> None:

    from pyinfra import logger  # the one files.block logs the notice on

    import hapair.deploy.runner  # noqa: F401 - installs the filter

    with caplog.at_level(logging.WARNING, logger="pyinfra"):
        logger.warning("The `files.block` operation is currently in beta!")
        logger.warning("something that matters")
    assert [r.getMessage() for r in caplog.records] == ["something that matters"]
