"""The guide's own cluster on real kernels (examples/lab-m2l.toml, QEMU VMs):
how long the machines take, and what a pulled cable and a failed disk cost.

    .venv/bin/python bench/m2l.py [--runs 5]

Brings the lab up with its machines' layer only (`apply --only host`: the
bonds and the RAID; no database, so the figures are the network's and the
disks' own), then per run:
- the pause on the public network when bond1's active member is pulled: node2
  pings node1's public address every 20 ms; the replies lost times 20 ms;
- the array's rebuild after a disk is failed and replaced, until [UU];
- a power cut and boot of node2, until SSH answers.
Prints each run and then the median and spread; the lab goes down at the end.
The bookings' pause through the whole stack is the drills':
`hapair drill examples/lab-m2l.toml --scenario nic-cut-primary` (lab up first).
Not a test: figures."""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time

SPEC = "examples/lab-m2l.toml"
INTERVAL = 0.02


def hapair(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "hapair", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"hapair {' '.join(args)} failed: {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return r


def on(node: str, script: str) -> str:
    return hapair("lab", "exec", SPEC, node, "--", "sh", "-c", script).stdout


def summary(name: str, values: list[float], unit: str = "s") -> str:
    return (f"{name}: median {statistics.median(values):.2f}{unit}, min {min(values):.2f}{unit},"
            f" max {max(values):.2f}{unit} over {len(values)} runs")


def nic_pause() -> float:
    """Seconds of lost pings while node1's bond1 moves from eth2 to eth3. The
    cable is pulled only once replies come (SSH into an emulated machine takes
    a while), 1 s into them."""
    count = int(5 / INTERVAL)
    ping = subprocess.Popen(
        [sys.executable, "-m", "hapair", "lab", "exec", SPEC, "node2", "--", "ping", "-n",
         "-i", str(INTERVAL), "-c", str(count), "-W", "1", "10.54.0.10"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert ping.stdout is not None
    said = []
    for line in ping.stdout:
        said.append(line)
        if "bytes from" in line:
            break
    time.sleep(1.0)
    hapair("lab", "fault", "nic-down", SPEC, "node1", "eth2")
    rest, _ = ping.communicate(timeout=120)
    hapair("lab", "fault", "nic-up", SPEC, "node1", "eth2")
    text = "".join(said) + rest
    found = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    if not found:
        raise SystemExit(f"ping said: {text[-2000:]}")
    sent, got = int(found.group(1)), int(found.group(2))
    time.sleep(2)  # back on eth2 (its primary) before the next run
    return (sent - got) * INTERVAL


def rebuild() -> float:
    hapair("lab", "fault", "disk-fail", SPEC, "node1", "/dev/vdc")
    while "[2/1]" not in on("node1", "cat /proc/mdstat"):
        time.sleep(0.5)
    started = time.monotonic()
    hapair("lab", "fault", "disk-replace", SPEC, "node1", "/dev/vdc")
    while True:
        text = on("node1", "cat /proc/mdstat")
        if "[2/2]" in text and "recovery" not in text and "resync" not in text:
            return time.monotonic() - started
        time.sleep(0.5)


def boot() -> float:
    hapair("lab", "fault", "power-cut", SPEC, "node2")
    said = hapair("lab", "fault", "start", SPEC, "node2").stdout
    found = re.search(r"SSH after ([\d.]+)s", said)
    if not found:
        raise SystemExit(f"start said: {said}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    hapair("lab", "down", SPEC)
    started = time.monotonic()
    hapair("lab", "up", SPEC, "--no-deploy")
    up = time.monotonic() - started
    print(f"lab up (image cached, two VMs to SSH): {up:.1f}s", flush=True)
    started = time.monotonic()
    hapair("lab", "apply", SPEC, "--only", "host")
    print(f"apply --only host (bonds, RAID, files): {time.monotonic() - started:.1f}s",
          flush=True)
    pauses, rebuilds, boots = [], [], []
    try:
        for run in range(1, args.runs + 1):
            pauses.append(nic_pause())
            rebuilds.append(rebuild())
            boots.append(boot())
            print(f"run {run}: bond1 pause {pauses[-1]:.2f}s, rebuild of 1 GiB "
                  f"{rebuilds[-1]:.1f}s, boot to SSH {boots[-1]:.1f}s", flush=True)
    finally:
        hapair("lab", "down", SPEC, check=False)
    print(summary("pause on bond1 when its active member is pulled", pauses))
    print(summary("RAID 1 rebuild onto a blank 1 GiB disk", rebuilds))
    print(summary("a VM's boot after a power cut, to SSH", boots))


if __name__ == "__main__":
    main()
