"""Load a spec file: TOML -> sections validated one by one -> rules -> ClusterSpec."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from hapair.spec.issues import Finding, SpecError
from hapair.spec.locate import key_lines, line_of
from hapair.spec.models import ClusterSpec
from hapair.spec.rules import run_rules


@dataclass(frozen=True)
class Loaded:
    spec: ClusterSpec
    warnings: tuple[Finding, ...]


MAX_SPEC_BYTES = 1_000_000
PATTERNS = ConfigDict(regex_engine="python-re")  # as the models (spec/types.py Frozen)


def load_spec(path: str | Path) -> Loaded:
    """Read and check a spec file; raise SpecError with every error found."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(str(path), [Finding((), f"cannot read the spec: {exc.strerror}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(str(path), [Finding((), f"{len(raw)} bytes: a spec is at most "
                                                f"{MAX_SPEC_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SpecError(str(path), [Finding((), "not UTF-8 text", line=line)]) from None
    return parse_spec(text, str(path))


def parse_spec(text: str, file: str = "<spec>") -> Loaded:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise SpecError(file, [Finding((), f"not valid TOML: {exc}", line=line)]) from None
    except RecursionError:
        raise SpecError(file, [Finding((), "nested too deeply to be a cluster spec")]) from None

    findings: list[Finding] = []
    sections: dict[str, Any] = {}
    for key in data:
        if key not in ClusterSpec.model_fields:
            findings.append(Finding((key,), "unknown field"))
    for name, info in ClusterSpec.model_fields.items():
        if name not in data:
            if info.is_required():
                findings.append(Finding((name,), "required field is missing"))
            else:
                sections[name] = info.get_default(call_default_factory=True)
            continue
        kind: Any = info.annotation
        if info.metadata:
            kind = Annotated[kind, *info.metadata]
        # A top-level field outside a model (the cluster's name) is checked
        # with the models' regex engine too: their patterns end in \Z.
        own = isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
        adapter: TypeAdapter[Any] = TypeAdapter(kind, config=None if own else PATTERNS)
        try:
            sections[name] = adapter.validate_python(data[name])
        except ValidationError as exc:
            findings.extend(_findings(name, exc))

    findings.extend(run_rules(sections))
    lines = key_lines(text)
    findings = [
        Finding(f.loc, f.message, f.severity, line_of(lines, f.loc)) for f in findings
    ]
    if any(f.severity == "error" for f in findings):
        raise SpecError(file, findings)
    spec = ClusterSpec.model_validate(data)
    return Loaded(spec, tuple(findings))


def _findings(section: str, exc: ValidationError) -> list[Finding]:
    errors = exc.errors()
    inner = {tuple(e["loc"][:i]) for e in errors for i in range(len(e["loc"]))}
    # pydantic counts a collection "too short" once an item in it failed: that
    # is the item's error, said twice.
    return [
        Finding((section, *_key_loc(e["loc"]), *_first_extra(e)),
                ("the name: " if e["loc"][-1:] == ("[key]",) else "") + _message(e))
        for e in errors
        if not (e["type"] == "too_short" and tuple(e["loc"]) in inner)
    ]


def _key_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic marks a bad key of a table with a last "[key]": the key's path."""
    return loc[:-1] if loc[-1:] == ("[key]",) else loc


def _first_extra(err: Any) -> tuple[int, ...]:
    """A collection with too many items: the first item too many (its line)."""
    if err["type"] == "too_long" and isinstance(err.get("ctx", {}).get("max_length"), int):
        return (err["ctx"]["max_length"],)
    return ()


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "too_long":
        ctx = err.get("ctx", {})
        return (f"at most {ctx.get('max_length')} items, not {ctx.get('actual_length')}: "
                "this one is too many")
    shown = repr(err.get("input"))
    if "input" not in err or isinstance(err["input"], dict | list) or len(shown) > 80:
        return str(err["msg"])  # a whole table echoed back helps nobody
    return f"{err['msg']} (got {shown})"


def _toml_error_line(message: str) -> int | None:
    marker = "at line "
    if marker not in message:
        return None
    digits = message.split(marker, 1)[1].split(",", 1)[0].split(")", 1)[0]
    return int(digits) if digits.isdigit() else None
