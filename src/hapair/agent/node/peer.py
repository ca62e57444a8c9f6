"""The peer's agent over HTTP: its status on every path (each poll also
renews this node's lease), fencing, and a backup stream for rebuilding."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from hapair import tls
from hapair.agent.core.config import AgentConfig
from hapair.agent.core.view import PATHS, Path, Peer, PeerStatus
from hapair.model import status
from hapair.model.roles import Role

log = logging.getLogger("hapair.agent")


class PeerError(Exception):
    pass


@dataclass
class Contact:
    """Times (monotonic) the lease logic needs; updated by several threads."""

    lease_renewed: float  # send time of our last answered poll
    peer_seen: float  # last sign of life: a poll of ours answered, or one of its polls
    lock: threading.Lock

    def renewed(self, sent: float, answered: float) -> None:
        with self.lock:
            self.lease_renewed = max(self.lease_renewed, sent)
            self.peer_seen = max(self.peer_seen, answered)

    def seen(self, when: float) -> None:
        with self.lock:
            self.peer_seen = max(self.peer_seen, when)

    def read(self) -> tuple[float, float]:
        with self.lock:
            return self.lease_renewed, self.peer_seen


STALE_POLL_X = 3  # a poll taking this many timeouts is a stood-still machine's

# A peer in one of these roles is about to write without waiting for this
# node: its answer says it is alive, never that this node may go on.
OPENING = frozenset({Role.PROMOTING, Role.FENCING})


def renews_lease(doc: PeerStatus | None) -> bool:
    """Whether a peer's answer renews this node's lease (pure). Not a peer
    that is writable, promoting or fencing us: a primary resuming from a
    pause whose first poll is answered by the node that took over meanwhile
    must not read that answer as leave to go on. A read-only peer that is
    still the primary by its epoch renews (a primary just fenced, not yet
    rejoined: counting it out closed the new primary, 10 s without a
    booking on the pair)."""
    return doc is not None and doc.read_only and doc.role not in OPENING


def chosen(answers: dict[Path, PeerStatus | None], paths: tuple[Path, ...]) -> PeerStatus | None:
    """The peer's status from one poll's answers (pure): the first path's,
    but one that says the peer is stopping wins. The two answers come a few
    milliseconds apart, and only the later one may carry the stop. Its agent
    takes any read as heard and exits. Judged by the interconnect's earlier
    answer alone, a primary never learned of a standby's planned stop, and
    paused its writes for the whole reboot (43 s in a rolling reboot)."""
    found = [answers[p] for p in paths if answers[p] is not None]
    return next((d for d in found if d is not None and d.stopping), found[0] if found else None)


class PeerClient:
    """The peer's agent over TLS (its certificate checked against the cluster
    CA): polls with the agents' own credential (secrets.peer_token), commands and the rebuild's
    stream with the API token."""

    def __init__(self, cfg: AgentConfig, poller: str, token: str, ca_file: str,
                 timeout: float = 0.5):
        self.cfg = cfg
        self.poller = poller
        self.token = token
        self.ca_file = ca_file
        self._tls: ssl.SSLContext | None = None  # made at first use (the file is apply's)
        self.timeout = timeout
        self._reported = ""
        self.pool = ThreadPoolExecutor(max_workers=2 * len(PATHS), thread_name_prefix="peer")

    def _request(self, path: Path, method: str, url_path: str, body: dict[str, Any] | None = None,
                 timeout: float | None = None) -> Any:
        host = self.cfg.peer_addresses[path]
        data = json.dumps(body).encode() if body is not None else None
        credential = self.poller if (method, url_path) == ("GET", "/status") else self.token
        req = urllib.request.Request(
            f"https://{host}:{self.cfg.agent_port}{url_path}", data=data, method=method,
            headers={"Authorization": f"Bearer {credential}", "X-Hapair-Node": self.cfg.node,
                     "Content-Type": "application/json"})
        return urllib.request.urlopen(req, timeout=timeout or self.timeout,
                                      context=self.context())

    def context(self) -> ssl.SSLContext:
        """The TLS context (the agent makes it at start: a missing CA file
        stops the agent there, with its name, not silently at every poll)."""
        if self._tls is None:
            self._tls = tls.client_context(ca_file=self.ca_file)
        return self._tls

    def _status(self, path: Path) -> PeerStatus | None:
        try:
            with self._request(path, "GET", "/status") as r:
                doc, notes = status.read(json.load(r))
        except (OSError, ValueError, TypeError, http.client.HTTPException):
            # A peer that dies mid-answer can leave a half response.
            return None
        self._report(notes)
        return doc

    def _report(self, notes: list[str]) -> None:
        """A peer whose document differs from ours (another version): said once."""
        said = "; ".join(notes)
        if said != self._reported:
            self._reported = said
            if said:
                log.warning("%s's status document differs: %s", self.cfg.peer, said)

    def poll(self, contact: Contact) -> Peer:
        """Ask on every path at once; the lease is renewed from the send time.
        A poll that took much longer than its timeout (this machine stood
        still in the middle of it: a pause) is thrown away: its answer may
        have waited in a socket since before the pause, and a primary that
        resumed read it as the peer's word now and reopened on it (seen:
        "node2 replicates again: open for writes", 8 s after node2 had
        promoted)."""
        sent = time.monotonic()
        asked = {self.pool.submit(self._status, p): p for p in PATHS}
        answers: dict[Path, PeerStatus | None] = {}
        for f in as_completed(asked):
            answers[asked[f]] = doc = f.result()
            # Renewed at the first answer that may renew it, not after the
            # slowest path: with a path cut, every poll waits out its 0.5 s
            # timeout, and a lease renewed only then ran out between polls.
            if renews_lease(doc) and time.monotonic() - sent <= STALE_POLL_X * self.timeout:
                contact.renewed(sent, time.monotonic())
        if time.monotonic() - sent > STALE_POLL_X * self.timeout:
            return Peer(None, ())
        paths = tuple(p for p in PATHS if answers[p] is not None)
        if paths:
            contact.seen(time.monotonic())
        status = chosen(answers, paths)
        # Silent agent: does the host itself still answer (a restarting agent),
        # or nothing at all (powered off, cut off)?
        # (Only fencing asks.)
        host = () if paths or self.cfg.fence is None else tuple(alive(self.cfg))
        return Peer(status, paths, time.monotonic() if paths else 0.0, host)

    def post(self, paths: tuple[Path, ...], url_path: str, body: dict[str, Any],
             timeout: float = 8.0) -> dict[str, Any]:
        """Ask on every path at once; the first answer wins. PeerError if none
        answers; its message says, per path, whether the host refused (alive,
        agent down) or did not answer at all."""
        errors: list[str] = []

        def one(path: Path) -> dict[str, Any]:
            try:
                with self._request(path, "POST", url_path, body, timeout) as r:
                    return dict(json.load(r))
            except urllib.error.HTTPError as exc:
                errors.append(f"{path}: {exc.code} "
                              f"{exc.read()[:200].decode(errors='replace')}")
            except (OSError, ValueError, http.client.HTTPException) as exc:
                errors.append(f"{path}: {getattr(exc, 'reason', exc)}")
            raise PeerError(errors[-1])

        futures = [self.pool.submit(one, p) for p in paths or PATHS]
        for f in as_completed(futures):
            with contextlib.suppress(PeerError):
                return f.result()
        raise PeerError("; ".join(errors))

    @contextmanager
    def backup(self, path: Path) -> Iterator[IO[bytes]]:
        """The primary's data as an xbstream (mariadb-backup), streamed."""
        with self._request(path, "GET", "/backup", timeout=120) as r:
            yield r


# A TCP probe of the peer: on a LAN a live host's kernel answers a connection
# within a millisecond, and a database greets within a few.
PROBE_TIMEOUT_S = 0.2


def probe(host: str, port: int, timeout: float) -> str:
    """What a TCP port says: "greets" (sends first: a database), "accepted"
    (connects, says nothing: a web server, or a frozen process whose kernel
    queues connections), "refused" (the kernel is up, nothing listens),
    "silent" (no answer at all: off, or cut off)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            try:
                return "greets" if s.recv(1) else "accepted"
            except OSError:
                return "accepted"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "silent"


def _probe_all(cfg: AgentConfig, timeout: float) -> dict[tuple[str, int], str]:
    targets = [(h, p) for h in cfg.peer_addresses.values() for p in (cfg.agent_port, cfg.db_port)]
    found: dict[tuple[str, int], str] = {}

    def one(host: str, port: int) -> None:
        found[(host, port)] = probe(host, port, timeout)

    threads = [threading.Thread(target=one, args=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * timeout + 0.5)
    return found


def alive(cfg: AgentConfig, timeout: float = PROBE_TIMEOUT_S) -> list[str]:
    """Signs that the peer runs although its agent is silent (restarting): its
    database greets. A powered-off, cut-off or frozen node does not (a frozen
    one queues connections and says nothing; a refusal alone proves only a
    kernel, and in the lab a cut machine's network lingers a few seconds)."""
    return sorted(f"{h}:{p}" for (h, p), said in _probe_all(cfg, timeout).items()
                  if said == "greets" and p == cfg.db_port)


def still_answers(cfg: AgentConfig, timeout: float = PROBE_TIMEOUT_S) -> list[str]:
    """After a fence: where a process still answers (greets, or accepts)."""
    return sorted(f"{h}:{p}" for (h, p), said in _probe_all(cfg, timeout).items()
                  if said in ("greets", "accepted"))
