"""The spec's field types: constrained strings and numbers every model
shares, and the frozen base model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

IfName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,15}\Z")]
HostName = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")]
# An absolute path of plain characters, without a ".." segment.
AbsPath = Annotated[str, Field(pattern=r"^(?!.*/\.\.(/|$))/[A-Za-z0-9_./-]*\Z")]
# A host to reach over SSH: a name or an IPv4 address, nothing a connector
# (pyinfra's "@local", "@docker/...") or an option ("-o...") could be read as.
SshHost = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")]
UserName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}\Z")]
DnsName = Annotated[str, Field(
    pattern=r"^(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")]
# One line of text: what an environment file can hold.
EnvValue = Annotated[str, Field(pattern=r"^[^\n\r\x00]{0,4096}\Z")]
# A command of the application's: its program (in the venv's bin/) and words.
SetupCommand = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+( [^\n\r\x00;&|`$<>]*)?\Z")]
SqlName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}\Z")]
Port = Annotated[int, Field(ge=1, le=65535)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", regex_engine="python-re")
