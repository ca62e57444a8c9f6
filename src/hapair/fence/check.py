"""`hapair validate`'s look at the fence devices: each agent exists on this
host and its options are ones it accepts (the agents describe themselves
with ``-o metadata``). Findings carry the field path; the caller adds lines."""

from __future__ import annotations

from hapair.fence import agent as fa
from hapair.spec.issues import Finding
from hapair.spec.models import ClusterSpec


def device_findings(spec: ClusterSpec) -> list[Finding]:
    out: list[Finding] = []
    cache: dict[str, fa.AgentMeta | str] = {}
    for i, node in enumerate(spec.nodes):
        if node.fence is None:
            continue
        name = node.fence.agent
        if name not in cache:
            try:
                cache[name] = fa.metadata(name)
            except fa.FenceError as exc:
                cache[name] = str(exc)
        meta = cache[name]
        if isinstance(meta, str):
            out.append(Finding(("nodes", i, "fence", "agent"), meta))
            continue
        for problem in meta.problems(node.fence.options):
            out.append(Finding(("nodes", i, "fence", "options"), problem))
    return out
