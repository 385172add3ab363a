"""Load and validate the profile catalogue; the storage arithmetic over its models."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recommender import paths
from recommender.errors import ProfileError, ProfileNameError, ProfileNotFound

TIERS = ("fast", "quality")
KINDS = ("task", "general")
# Names double as file names: keep them to a safe alphabet so that "../x" can never be one.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
# Ollama model names: namespace/model, lowercase letters, digits and . _ -; tags likewise.
MODEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Model:
    name: str
    tag: str
    tier: str
    purpose: str
    size_gb: float
    params_b: float
    context: int

    @property
    def ref(self) -> str:
        """The reference Ollama pulls and lists: name:tag."""
        return f"{self.name}:{self.tag}"

    @property
    def follows_latest(self) -> bool:
        return self.tag == "latest"


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    description: str
    models: tuple[Model, ...]
    recommended_for: tuple[str, ...]
    size_estimate: str
    source: Path = field(compare=False)

    def model_for(self, tier: str) -> Model:
        for model in self.models:
            if model.tier == tier:
                return model
        raise ProfileError(f"profile '{self.name}' has no {tier} model")

    def models_for(self, tier: str) -> tuple[Model, ...]:
        """The models of one tier, or every model for tier 'all'."""
        if tier == "all":
            return self.models
        return tuple(m for m in self.models if m.tier == tier)

    @property
    def size_gb(self) -> float:
        return unique_size_gb(self.models)

    @property
    def is_user(self) -> bool:
        return not _is_within(self.source, paths.bundled_dir("profiles"))


class Catalogue(Mapping[str, Profile]):
    """All profiles by name; user profiles override bundled ones of the same name."""

    def __init__(self, profiles: Iterable[Profile]):
        self._by_name = {p.name: p for p in profiles}

    def __getitem__(self, name: str) -> Profile:
        return self._by_name[name]

    def __iter__(self):
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def get_profile(self, name: str) -> Profile:
        """The profile called `name`, or ProfileNotFound naming the closest ones."""
        check_name(name)
        try:
            return self._by_name[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._by_name), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `taskprof profiles` lists them"
            raise ProfileNotFound(f"no profile named '{name}'{hint}") from None

    def of_kind(self, kind: str) -> list[Profile]:
        return [p for p in self._by_name.values() if p.kind == kind]


def check_name(name: str) -> str:
    """Refuse anything that is not a plain profile name (paths, dots, upper case, empty)."""
    if not NAME_RE.fullmatch(name):
        raise ProfileNameError(
            f"'{name}' is not a profile name: use lowercase letters, digits and '-' (not a path)"
        )
    return name


def load_catalogue(bundled: Path | None = None, user: Path | None = None) -> Catalogue:
    """Read and validate every profile: the bundled ones, then the user's, which override by name."""
    bundled = paths.bundled_dir("profiles") if bundled is None else bundled
    user = paths.user_profiles_dir() if user is None else user
    if not bundled.is_dir():
        raise ProfileError(f"bundled profiles not found at {bundled}: the installation is incomplete")
    profiles: dict[str, Profile] = {}
    for folder in (bundled, user):
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.json")):
            if file.name == "schema.json":
                continue
            profile = load_profile_file(file)
            profiles[profile.name] = profile
    return Catalogue(sorted(profiles.values(), key=lambda p: (KINDS.index(p.kind), p.name)))


def load_profile_file(file: Path) -> Profile:
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(f"{file}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{file}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except OSError as exc:
        raise ProfileError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        return parse_profile(raw, file)
    except _Invalid as exc:
        raise ProfileError(f"{file}: {exc}") from None


class _Invalid(Exception):
    pass


def parse_profile(raw: Any, source: Path) -> Profile:
    """Validate one decoded profile document; _Invalid names the first problem."""
    obj = _expect_object(raw, "the profile")
    _no_unknown_keys(obj, {"$schema", "name", "kind", "description", "models", "recommended_for", "size_estimate"}, "the profile")
    name = _expect_str(obj, "name")
    if not NAME_RE.fullmatch(name):
        raise _Invalid(f"name '{name}' must be lowercase letters, digits and '-'")
    if source.stem != name:
        raise _Invalid(f"name '{name}' does not match the file name '{source.name}'")
    kind = _expect_str(obj, "kind")
    if kind not in KINDS:
        raise _Invalid(f"kind must be one of {', '.join(KINDS)}, not '{kind}'")
    models_raw = obj.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        raise _Invalid("'models' must be a non-empty list")
    models = tuple(_parse_model(m, i) for i, m in enumerate(models_raw))
    for tier in TIERS:
        count = sum(m.tier == tier for m in models)
        if count != 1:
            raise _Invalid(f"needs exactly one {tier} model, found {count}")
    recommended = obj.get("recommended_for")
    if not isinstance(recommended, list) or not recommended or not all(
        isinstance(r, str) and r.strip() for r in recommended
    ):
        raise _Invalid("'recommended_for' must be a non-empty list of strings")
    return Profile(
        name=name,
        kind=kind,
        description=_expect_str(obj, "description"),
        models=models,
        recommended_for=tuple(recommended),
        size_estimate=_expect_str(obj, "size_estimate"),
        source=source,
    )


def _parse_model(raw: Any, index: int) -> Model:
    where = f"models[{index}]"
    obj = _expect_object(raw, where)
    _no_unknown_keys(obj, {"name", "tag", "tier", "purpose", "size_gb", "params_b", "context"}, where)
    name = _expect_str(obj, "name", where)
    if not MODEL_NAME_RE.fullmatch(name):
        raise _Invalid(f"{where}.name '{name}' is not an Ollama model name")
    tag = _expect_str(obj, "tag", where)
    if not TAG_RE.fullmatch(tag):
        raise _Invalid(f"{where}.tag '{tag}' is not an Ollama tag")
    tier = _expect_str(obj, "tier", where)
    if tier not in TIERS:
        raise _Invalid(f"{where}.tier must be one of {', '.join(TIERS)}, not '{tier}'")
    return Model(
        name=name,
        tag=tag,
        tier=tier,
        purpose=_expect_str(obj, "purpose", where),
        size_gb=_expect_number(obj, "size_gb", where, minimum=0.01, maximum=2000),
        params_b=_expect_number(obj, "params_b", where, minimum=0.01, maximum=5000),
        context=int(_expect_number(obj, "context", where, minimum=512, maximum=10_000_000, integer=True)),
    )


def _expect_object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Invalid(f"{where} must be a JSON object")
    return raw


def _no_unknown_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _Invalid(f"{where} has unknown field(s): {', '.join(unknown)}")


def _expect_str(obj: dict[str, Any], key: str, where: str = "") -> str:
    label = f"{where}.{key}" if where else key
    if key not in obj:
        raise _Invalid(f"missing '{label}'")
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"'{label}' must be a non-empty string")
    return value


def _expect_number(
    obj: dict[str, Any], key: str, where: str, *, minimum: float, maximum: float, integer: bool = False
) -> float:
    label = f"{where}.{key}"
    if key not in obj:
        raise _Invalid(f"missing '{label}'")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise _Invalid(f"'{label}' must be {'an integer' if integer else 'a number'}")
    if not minimum <= value <= maximum:
        raise _Invalid(f"'{label}' must be between {minimum:g} and {maximum:g}")
    return float(value)


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


# --- storage arithmetic -------------------------------------------------------------------------


def unique_size_gb(models: Iterable[Model]) -> float:
    """Disk needed for these models, each distinct reference counted once."""
    return sum({m.ref: m.size_gb for m in models}.values())


@dataclass(frozen=True)
class PlannedModel:
    ref: str
    size_gb: float
    tiers: tuple[str, ...]
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class StoragePlan:
    profiles: tuple[str, ...]
    tier: str
    models: tuple[PlannedModel, ...]
    naive_gb: float

    @property
    def total_gb(self) -> float:
        return sum(m.size_gb for m in self.models)

    @property
    def saved_gb(self) -> float:
        return self.naive_gb - self.total_gb


def storage_plan(profiles: Iterable[Profile], tier: str = "all") -> StoragePlan:
    """What the chosen tiers of these profiles take on disk, shared models counted once."""
    chosen = list(profiles)
    by_ref: dict[str, dict[str, Any]] = {}
    naive = 0.0
    for profile in chosen:
        for model in profile.models_for(tier):
            naive += model.size_gb
            entry = by_ref.setdefault(model.ref, {"size": model.size_gb, "tiers": [], "used_by": []})
            if model.tier not in entry["tiers"]:
                entry["tiers"].append(model.tier)
            entry["used_by"].append(profile.name)
    planned = tuple(
        PlannedModel(ref=ref, size_gb=e["size"], tiers=tuple(e["tiers"]), used_by=tuple(e["used_by"]))
        for ref, e in sorted(by_ref.items(), key=lambda kv: (-kv[1]["size"], kv[0]))
    )
    return StoragePlan(profiles=tuple(p.name for p in chosen), tier=tier, models=planned, naive_gb=naive)
