"""The records reference data is made of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["trust", "site", "gp_practice"]


@dataclass(frozen=True, slots=True)
class Organisation:
    """One ODS organisation: a trust, a trust site or a GP practice."""

    code: str
    name: str
    kind: Kind
    commissioner: str  # ICB (or commissioner) ODS code, '' when the file does not say
    parent: str  # trust code for a site, '' otherwise
    postcode: str
    active: bool


@dataclass(frozen=True, slots=True)
class Ward:
    site_code: str
    name: str  # canonical spelling
    aliases: tuple[str, ...] = ()
    line: int = 0  # where it was read, for problems found later


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """Something wrong in a reference file, located for the person who has to fix it."""

    file: str
    line: int  # 1-based; 0 when the problem is about the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass(frozen=True, slots=True)
class Aliases:
    """Extra ways one organisation is named: curated by the people who know the area."""

    code: str
    names: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    line: int = 0
