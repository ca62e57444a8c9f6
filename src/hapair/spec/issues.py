"""What is wrong with a spec: one finding per field, with its path and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hapair.spec.locate import Loc


@dataclass(frozen=True)
class Finding:
    loc: Loc
    message: str
    severity: Literal["error", "warning"] = "error"
    line: int | None = None

    @property
    def path(self) -> str:
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "(file)"

    def where(self, file: str) -> str:
        return f"{file}:{self.line}" if self.line else file

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "field": self.path,
            "line": self.line,
            "message": self.message,
        }


class SpecError(Exception):
    """A spec that cannot be used; carries every error found, not only the first."""

    def __init__(self, file: str, findings: Sequence[Finding]) -> None:
        self.file = file
        self.findings = tuple(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        super().__init__(
            f"{file}: {len(errors)} error(s): "
            + "; ".join(f"{f.path}: {f.message}" for f in errors[:3])
        )
