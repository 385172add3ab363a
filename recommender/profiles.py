"""Load and check the profile catalogue; the storage arithmetic over its models.

The format is profiles/schema.json, the design's profile format: a model's `name` is the full Ollama
reference and its `tag` the update policy. Checked with fastjsonschema; what a schema cannot say (the
name matches the file name, one model of each tier) is checked here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recommender import paths
from recommender.errors import ProfileError, ProfileNameError, ProfileNotFound
from recommender.types import Tier

TIERS = ("fast", "quality")
KINDS = ("task", "general")
DEFAULT_KIND = "task"
# The context assumed when a profile does not give one; hardware's fit check sizes the KV cache for
# the same 8192 tokens, so an absent figure never makes a model look bigger than it is.
DEFAULT_CONTEXT = 8192
LATEST = "latest"
DIGEST_PREFIX = "sha256:"
# Names double as file names: keep them to a safe alphabet so that "../x" can never be one.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")

# Estimating a model the profile gives no figures for. Ollama's library builds are 4-bit Q4_K_M by
# default (~4.8 bits a weight); with embeddings, tokenizer and projector files the bundled models take
# 0.59-0.79 GB per billion nominal parameters (qwen2.5-coder:7b 4.7 GB, llama3.3:70b 43 GB), mean 0.65.
GB_PER_BILLION = 0.65
# Tags that name an unquantized or 8-bit build say so; their weights take 2 (16-bit) or ~1.1 bytes.
GB_PER_BILLION_BY_QUANT = (("fp32", 4.0), ("fp16", 2.0), ("bf16", 2.0), ("q8", 1.1))
# A tag that names no size ("mistral", "llama3.2:latest") is taken for a 7B-class model, the commonest.
UNKNOWN_PARAMS_B = 7.0
# "7b", "1.5b", "70b", "8x7b" (experts x size), "e2b" (effective size), "270m", anywhere in the tag
# ("32b-instruct-q8_0"); the first one wins ("30b-a3b" is 30B).
_SIZE_IN_TAG = re.compile(r"(?<![a-z0-9.])(?:(\d+)x|e)?(\d+(?:\.\d+)?)([bm])(?![a-z0-9])")


@dataclass(frozen=True)
class Model:
    """One model of a profile's tier, as the profile file describes it."""

    name: str  # the full Ollama reference as the file writes it: "qwen2.5-coder:7b"
    tag: str  # the update policy: "latest", or a pinned digest "sha256:<64 hex>"
    tier: Tier
    purpose: str
    size_gb: float
    params_b: float
    context: int
    estimated: bool = False  # size or parameters were not in the file: inferred from the reference

    @property
    def ref(self) -> str:
        """The reference Ollama pulls and lists: `name`, with ':latest' when it names no tag."""
        return normalize_ref(self.name)

    @property
    def follows_latest(self) -> bool:
        """`taskprof update` re-pulls the reference to follow new builds."""
        return self.tag == LATEST

    @property
    def pinned_digest(self) -> str | None:
        """The build this profile holds ("sha256:..."), never updated; None when it follows latest."""
        return self.tag if self.tag.startswith(DIGEST_PREFIX) else None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "tag": self.tag, "ref": self.ref, "tier": self.tier, "purpose": self.purpose,
                "size_gb": self.size_gb, "params_b": self.params_b, "context": self.context,
                "estimated": self.estimated, "pinned_digest": self.pinned_digest}


@dataclass(frozen=True)
class Profile:
    """A task or general profile: its models (a fast and a quality tier) and what it is for."""

    name: str
    kind: str
    description: str
    models: tuple[Model, ...]
    recommended_for: tuple[str, ...]
    size_estimate: str  # the file's own words, or "~XX GB total" computed from the models
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
    def estimated(self) -> bool:
        return any(m.estimated for m in self.models)

    @property
    def is_user(self) -> bool:
        return not _is_within(self.source, paths.bundled_dir("profiles"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "models": [m.to_json() for m in self.models], "recommended_for": list(self.recommended_for),
                "size_gb": round(self.size_gb, 2), "size_estimate": self.size_estimate,
                "source": "user" if self.is_user else "bundled"}


class Catalogue(Mapping[str, Profile]):
    """All profiles by name; user profiles override bundled ones of the same name.

    `warnings` holds one line for each user file that was skipped because it is broken.
    """

    def __init__(self, profiles: Iterable[Profile], warnings: Iterable[str] = ()):
        self._by_name = {p.name: p for p in profiles}
        self.warnings: tuple[str, ...] = tuple(warnings)

    def __getitem__(self, name: str) -> Profile:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def get_profile(self, name: str) -> Profile:
        """The profile called `name`, or ProfileNotFound naming the closest ones."""
        check_name(name)
        try:
            return self._by_name[name]
        except KeyError:
            import difflib  # only for a name that is not there: ~6 ms every suggest would pay

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


def normalize_ref(name: str) -> str:
    """'mistral' -> 'mistral:latest'; a reference with a tag is kept as it is."""
    last = name.rsplit("/", 1)[-1]  # a registry host may carry a port: "host:5000/ns/model"
    return name if ":" in last else f"{name}:{LATEST}"


def params_from_ref(ref: str) -> float | None:
    """Billions of parameters the reference's tag names: 'qwen2.5:1.5b' -> 1.5, '8x7b' -> 56; else None."""
    tag = normalize_ref(ref).rsplit(":", 1)[-1].lower()
    match = _SIZE_IN_TAG.search(tag)
    if not match:
        return None
    experts, number, unit = match.groups()
    billions = float(number) / (1000 if unit == "m" else 1)
    return billions * int(experts) if experts else billions


def estimate_size_gb(ref: str, params_b: float) -> float:
    """Download size from the parameter count, at the bytes per weight of the quantization the tag names."""
    tag = normalize_ref(ref).rsplit(":", 1)[-1].lower()
    per_billion = next((gb for quant, gb in GB_PER_BILLION_BY_QUANT if quant in tag), GB_PER_BILLION)
    return round(params_b * per_billion, 1) or 0.1


def load_catalogue(bundled: Path | None = None, user: Path | None = None) -> Catalogue:
    """Every profile: the bundled ones, then the user's, which override by name.

    Bundled files ship read-only and the test suite checks them against the schema, so they are
    not schema-checked here (that would cost cold start ~30 ms); a broken one is still a
    ProfileError. A broken user file is skipped and reported in `Catalogue.warnings`.
    """
    bundled = paths.bundled_dir("profiles") if bundled is None else bundled
    user = paths.user_profiles_dir() if user is None else user
    if not bundled.is_dir():
        raise ProfileError(f"bundled profiles not found at {bundled}: the installation is incomplete")
    profiles = {}
    for file in _profile_files(bundled):
        profile = load_profile_file(file, validate=False)
        profiles[profile.name] = profile
    # A user file that leaves out a bundled model's size or parameters gets the bundled figures, not
    # an estimate from the tag: one model has one size in every command (deepseek-r1:32b was 20.0 GB
    # in data-work and 20.8 GB, 32 x 0.65, in a user profile naming it bare).
    known = {m.ref: m for p in profiles.values() for m in p.models}
    warnings = []
    for file in _profile_files(user):
        try:
            profile = load_profile_file(file, known=known)
        except ProfileError as exc:
            instead = "; the bundled profile of that name is used" if file.stem in profiles else ""
            warnings.append(f"{exc} (skipped{instead})")
            continue
        profiles[profile.name] = profile
    return Catalogue(sorted(profiles.values(), key=lambda p: (KINDS.index(p.kind), p.name)), warnings)


def _profile_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [f for f in sorted(folder.glob("*.json")) if f.name != "schema.json"]


PROFILE_BYTES = 256_000  # a profile is a few kB


def load_profile_file(file: Path, *, validate: bool = True, known: Mapping[str, Model] | None = None) -> Profile:
    """One profile file, checked against profiles/schema.json unless validate=False.

    `known` (models by reference) supplies the size and parameters a model entry leaves out, before
    any estimate from the tag.

    Any problem is a ProfileError of one line: file, field and what is wrong.
    """
    from recommender import files  # size cap, regular files only (no FIFO, no /dev/zero), depth-limited JSON

    try:
        raw = files.read_json(file, max_bytes=PROFILE_BYTES, within=file.parent)
    except files.DamagedFile as exc:
        raise ProfileError(str(exc)) from None
    if raw is None:
        raise ProfileError(f"{file}: cannot read: No such file or directory")
    try:
        if validate:
            _check_schema(raw)
        try:
            return _build(raw, file, known or {})
        except (KeyError, TypeError, ValueError, AttributeError):
            # An unchecked (bundled) file that does not even build: the schema says what is wrong.
            _check_schema(raw)
            raise _Invalid("", "does not follow profiles/schema.json") from None
    except _Invalid as exc:
        raise ProfileError(f"{file}: {exc}") from None


class _Invalid(Exception):
    """One problem of one file: the field (empty for the whole document) and what is wrong with it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}" if field else problem)


@functools.cache
def _schema_validator() -> tuple[Callable[..., Any], type[Exception]]:
    # Imported and compiled on first use only: ~25 ms that a catalogue of bundled files never pays.
    import fastjsonschema

    file = paths.bundled_dir("profiles") / "schema.json"
    try:
        schema = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{file}: cannot read the profile schema ({exc}): the installation is incomplete") from None
    return fastjsonschema.compile(schema, use_default=False, use_formats=False), fastjsonschema.JsonSchemaValueException


def _check_schema(raw: Any) -> None:
    validate, failure = _schema_validator()
    try:
        validate(raw)
    except failure as exc:
        raise _Invalid(*_explain(exc)) from None


def _explain(exc: Any) -> tuple[str, str]:
    """fastjsonschema's first failure as (field, problem), e.g. ('models[1].tier', "'slow' is not one of [...]")."""
    where = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in map(str, exc.path[1:])).lstrip(".")
    rule, value, expected, definition = exc.rule, exc.value, exc.rule_definition, exc.definition or {}
    if rule == "required":
        missing = next(k for k in expected if k not in value)
        return _join(where, missing), "is required but missing"
    if rule == "additionalProperties":
        unknown = sorted(set(value) - set(definition.get("properties", {})))[0]
        return _join(where, unknown), "is not a field of the profile format"
    if rule == "enum":
        return where, f"{value!r} is not one of {expected}"
    if rule == "pattern":
        if expected == r"\S":
            return where, "must not be blank"
        explained = definition.get("description") or f"a match for {expected}"
        return where, f"{value!r} is not valid: expected {explained}"
    return where, exc.message.removeprefix(exc.name).strip()


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _build(raw: dict[str, Any], source: Path, known: Mapping[str, Model]) -> Profile:
    """A Profile from a schema-valid document, with the checks the schema cannot express."""
    name = raw["name"]
    if source.stem != name:
        raise _Invalid("name", f"'{name}' does not match the file name '{source.name}'")
    models = tuple(_build_model(m, known) for m in raw["models"])
    counts = {tier: sum(m.tier == tier for m in models) for tier in TIERS}
    if set(counts.values()) != {1}:
        found = ", ".join(f"{n} {tier}" for tier, n in counts.items())
        raise _Invalid("models", f"needs exactly one fast and one quality model, found {found}")
    kind = raw.get("kind", DEFAULT_KIND)
    if kind not in KINDS:  # only an unchecked file gets here with one; the catalogue sorts by kind
        raise ValueError(kind)
    return Profile(
        name=name,
        kind=kind,
        description=raw["description"],
        models=models,
        recommended_for=tuple(raw["recommended_for"]),
        size_estimate=raw.get("size_estimate") or _size_estimate(models),
        source=source,
    )


def _build_model(raw: dict[str, Any], known: Mapping[str, Model]) -> Model:
    ref = raw["name"]
    same = known.get(normalize_ref(ref))
    params = raw.get("params_b")
    if params is None:
        params = same.params_b if same else params_from_ref(ref) or UNKNOWN_PARAMS_B
    size = raw.get("size_gb")
    if size is None:
        size = same.size_gb if same else estimate_size_gb(ref, params)
    return Model(
        name=ref,
        tag=raw["tag"],
        tier=raw["tier"],
        purpose=raw["purpose"],
        size_gb=float(size),
        params_b=float(params),
        context=int(raw.get("context", DEFAULT_CONTEXT)),
        estimated=same.estimated if same else "size_gb" not in raw or "params_b" not in raw,
    )


def _size_estimate(models: Iterable[Model]) -> str:
    """The design's "~XX GB total", each distinct model counted once."""
    models = list(models)
    total = unique_size_gb(models)
    figure = f"{total:.0f}" if total >= 10 else f"{total:.1f}"
    return f"~{figure} GB total" + (", estimated from the model tags" if any(m.estimated for m in models) else "")


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
    """One model of a storage plan, counted once however many profiles use it."""

    ref: str
    size_gb: float
    tiers: tuple[str, ...]
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class StoragePlan:
    """The disk some profiles take, shared models counted once."""

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

    def to_json(self) -> dict[str, Any]:
        return {"profiles": list(self.profiles), "tier": self.tier,
                "models": [{"ref": m.ref, "size_gb": m.size_gb, "tiers": list(m.tiers), "used_by": list(m.used_by)}
                           for m in self.models],
                "total_gb": round(self.total_gb, 2), "naive_gb": round(self.naive_gb, 2),
                "saved_gb": round(self.saved_gb, 2)}


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
