"""`ReferenceData`: ODS organisations, local wards and aliases, indexed for lookups by code and name.

Everything is indexed once at load time so that `resolve`, `mentions` and `resolve_ward` are
dictionary lookups on the hot path. Names are matched after `names.tokens()` normalisation;
a name that could mean two unrelated organisations resolves to neither (a wrong provider is
worse than none: it sends an alert to the wrong board).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.exceptions import ConnectorConfigError
from connectors.reference import files
from connectors.reference.matcher import MentionIndex
from connectors.reference.model import Aliases, LoadProblem, Organisation, Ward
from connectors.reference.names import is_distinctive, tokens, variants, ward_key, without_suffixes

# How a key was derived; a lower tier wins over a higher one.
_ALIAS, _FULL_NAME, _SHORT_NAME = 0, 1, 2
_Key = tuple[str, ...]


def _pick(candidates: set[Organisation]) -> Organisation | None:
    """One organisation from a set sharing a key, or None when the key is truly ambiguous."""
    if len(candidates) == 1:
        return next(iter(candidates))
    active = {org for org in candidates if org.active}
    if len(active) == 1:
        return next(iter(active))
    pool = active or candidates
    # A site and its own trust sharing a name: the site is the more specific answer.
    codes = {org.code for org in pool}
    sites = [org for org in pool if org.kind == "site" and org.parent in codes]
    if len(sites) == 1 and all(org.kind == "site" or org.code == sites[0].parent for org in pool):
        return sites[0]
    return None


def _best(entries: dict[_Key, dict[int, set[Organisation]]]) -> dict[_Key, Organisation]:
    chosen: dict[_Key, Organisation] = {}
    for key, tiers in entries.items():
        organisation = _pick(tiers[min(tiers)])
        if organisation is not None:
            chosen[key] = organisation
    return chosen


@dataclass
class ReferenceData:
    organisations: dict[str, Organisation] = field(default_factory=dict)
    wards: list[Ward] = field(default_factory=list)
    aliases: list[Aliases] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    loaded_files: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def empty(cls) -> ReferenceData:
        return cls()

    @classmethod
    def load(cls, directory: Path, *, strict: bool = False) -> ReferenceData:
        """Read whichever of etr.csv, ets.csv, epraccur.csv, wards.csv/.yaml, aliases.yaml exist.

        Row problems are kept in `.problems`; with `strict=True` any problem is raised instead.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise ConnectorConfigError(f"reference data directory {directory} does not exist")
        problems: list[LoadProblem] = []
        organisations: dict[str, Organisation] = {}
        loaded: list[str] = []
        for path in files.present(directory, files.ODS_FILES):
            loaded.append(path.name)
            for org in files.read_ods(path, files.ODS_FILES[path.name], problems):
                if org.code in organisations:
                    problems.append(LoadProblem(path.name, 0, f"code {org.code} is also in another ODS file"))
                    continue
                organisations[org.code] = org
        organisations = _inherit_commissioners(organisations)
        wards: list[Ward] = []
        for path in files.present(directory, ("wards.csv", "wards.yaml", "wards.yml")):
            loaded.append(path.name)
            reader = files.read_wards_csv if path.suffix == ".csv" else files.read_wards_yaml
            for ward in reader(path, problems):
                if organisations and ward.site_code not in organisations:
                    problems.append(
                        LoadProblem(
                            path.name,
                            ward.line,
                            f"ward {ward.name!r}: site code {ward.site_code} is not in the ODS files",
                        )
                    )
                wards.append(ward)
        aliases: list[Aliases] = []
        for path in files.present(directory, ("aliases.yaml", "aliases.yml")):
            loaded.append(path.name)
            for entry in files.read_aliases(path, problems):
                if entry.code not in organisations:
                    problems.append(
                        LoadProblem(
                            path.name, entry.line, f"aliases for {entry.code}: no such code in the ODS files"
                        )
                    )
                    continue
                aliases.append(entry)
        if strict and problems:
            shown = "; ".join(str(p) for p in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise ConnectorConfigError(f"reference data in {directory}: {shown}{more}")
        return cls(organisations, wards, aliases, problems, loaded)

    @classmethod
    def from_records(
        cls,
        organisations: Iterable[Organisation],
        wards: Iterable[Ward] = (),
        aliases: Iterable[Aliases] = (),
    ) -> ReferenceData:
        """Build from records already in memory (tests, other loaders)."""
        return cls({org.code: org for org in organisations}, list(wards), list(aliases))

    def _index(self) -> None:
        resolve_entries: dict[_Key, dict[int, set[Organisation]]] = defaultdict(lambda: defaultdict(set))
        mention_entries: dict[_Key, dict[int, set[Organisation]]] = defaultdict(lambda: defaultdict(set))
        hashtags: dict[str, dict[int, set[Organisation]]] = defaultdict(lambda: defaultdict(set))
        handles: dict[str, Organisation] = {}
        for org in self.organisations.values():
            for full in variants(org.name):
                resolve_entries[full][_FULL_NAME].add(org)
                if is_distinctive(full):
                    mention_entries[full][_FULL_NAME].add(org)
                    hashtags["".join(full)][_FULL_NAME].add(org)
                for short in without_suffixes(full):
                    if is_distinctive(short):
                        resolve_entries[short][_SHORT_NAME].add(org)
                        # In free text a one-word short name ("Seacroft") is as likely the place.
                        if len(short) > 1:
                            mention_entries[short][_SHORT_NAME].add(org)
                            hashtags["".join(short)][_SHORT_NAME].add(org)
        for entry in self.aliases:
            org = self.organisations[entry.code]
            for name in entry.names:
                for key in variants(name):
                    resolve_entries[key][_ALIAS].add(org)
                    if not (len(key) == 1 and not is_distinctive(key)):
                        mention_entries[key][_ALIAS].add(org)
            for tag in entry.hashtags:
                hashtags[tag.casefold()][_ALIAS].add(org)
            for handle in entry.handles:
                handles[handle.casefold()] = org
        self._by_name = _best(resolve_entries)
        self._mentions = MentionIndex(_best(mention_entries), _best(hashtags), handles)  # type: ignore[arg-type]
        self._wards: dict[str, dict[_Key, str]] = defaultdict(dict)
        for ward in self.wards:
            for spelling in (ward.name, *ward.aliases):
                self._wards[ward.site_code].setdefault(ward_key(spelling), ward.name)
        self._sites_of: dict[str, list[str]] = defaultdict(list)
        for org in self.organisations.values():
            if org.kind == "site" and org.parent:
                self._sites_of[org.parent].append(org.code)

    # -- lookups ------------------------------------------------------------------------------

    def get(self, code: str) -> Organisation | None:
        return self.organisations.get(code.strip().upper()) if code else None

    def resolve(self, name: str) -> Organisation | None:
        """A provider or site by code, name or alias; None when unknown or ambiguous."""
        if not name or not name.strip():
            return None
        by_code = self.get(name)
        if by_code is not None:
            return by_code
        return self._by_name.get(tuple(tokens(name)))

    def mentions(self, text: str) -> list[Organisation]:
        """Organisations named in free text (names, aliases, #hashtags, @handles), most specific first."""
        return self._mentions.find(text) if text else []

    def resolve_ward(self, site_or_provider_code: str, ward_name: str) -> str | None:
        """The canonical ward name under a site or any site of a trust; None if unknown or ambiguous."""
        if not site_or_provider_code or not ward_name:
            return None
        code = site_or_provider_code.strip().upper()
        key = ward_key(ward_name)
        found = {
            self._wards[site][key]
            for site in (code, *self._sites_of.get(code, ()))
            if key in self._wards.get(site, {})
        }
        return found.pop() if len(found) == 1 else None

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for org in self.organisations.values():
            counts[org.kind] += 1
            counts["active"] += org.active
        return {
            "trusts": counts["trust"],
            "sites": counts["site"],
            "gp_practices": counts["gp_practice"],
            "active": counts["active"],
            "wards": len(self.wards),
            "aliases": len(self.aliases),
            "problems": len(self.problems),
        }


def _inherit_commissioners(organisations: dict[str, Organisation]) -> dict[str, Organisation]:
    """A site with no geography of its own belongs to its trust's ICB."""
    from dataclasses import replace

    result = dict(organisations)
    for code, org in organisations.items():
        if org.kind == "site" and not org.commissioner and org.parent in organisations:
            result[code] = replace(org, commissioner=organisations[org.parent].commissioner)
    return result
