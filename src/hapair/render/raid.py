"""The RAID plan: mdadm.conf, a create script that refuses to wipe data, a mount."""

from __future__ import annotations

import shlex

from hapair.render.files import RenderedFile, header
from hapair.render.systemd import mount_unit
from hapair.spec.models import ClusterSpec, Node

MDADM_CONF = "/etc/mdadm/mdadm.conf"
CREATE_SCRIPT = "/etc/hapair/raid-create.sh"


def create_commands(spec: ClusterSpec) -> list[list[str]]:
    st = spec.storage
    assert st is not None
    return [
        ["mdadm", "--create", st.array, f"--level={st.level}",
         f"--raid-devices={len(st.devices)}", "--metadata=1.2", "--run", *st.devices],
        [f"mkfs.{st.filesystem}", "-L", "hapair-data", st.array],
    ]


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    st = spec.storage
    if st is None:
        return []
    conf = (
        header(spec, node)
        + f"DEVICE {' '.join(st.devices)}\n"
        + f"ARRAY {st.array} level=raid{st.level} num-devices={len(st.devices)} "
        + f"devices={','.join(st.devices)}\n"
        + "MAILADDR root\n"
    )
    devs = " ".join(shlex.quote(d) for d in st.devices)
    create = "\n".join(shlex.join(c) for c in create_commands(spec))
    script = f"""#!/bin/sh
{header(spec, node)}# Creates {st.array} (RAID {st.level}) once. It never overwrites a device
# that holds a filesystem or an old array unless HAPAIR_WIPE=yes is set.
set -eu
if mdadm --detail {shlex.quote(st.array)} >/dev/null 2>&1; then
    echo "{st.array} already exists: nothing to do"
    exit 0
fi
for dev in {devs}; do
    kind=$(blkid -o value -s TYPE "$dev" 2>/dev/null || true)
    if [ -n "$kind" ] && [ "${{HAPAIR_WIPE:-no}}" != yes ]; then
        echo "refusing: $dev holds $kind; set HAPAIR_WIPE=yes to wipe it" >&2
        exit 3
    fi
done
{create}
mkdir -p {shlex.quote(st.mount_point)}
"""
    mount = mount_unit(
        spec, node, what=st.array, where=st.mount_point, fstype=st.filesystem,
        options="defaults,nofail",
    )
    return [
        RenderedFile(MDADM_CONF, conf, 0o644, "raid"),
        RenderedFile(CREATE_SCRIPT, script, 0o700, "raid"),
        mount,
    ]
