"""What one command (or one server) loads at most once, and the one answer to "where does a tier run,
in how much memory".

`Session.machine(tier)` is the only place fit is judged from: `profiles`, `suggest`, `install`,
`status`, `update` and `export` all ask it, so they cannot disagree. Warnings collect in
`Session.warnings` (each once) for the front end to show; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from recommender import hardware, ollama_client, usage
from recommender import state as state_mod
from recommender.errors import ArtifactError
from recommender.profiles import Catalogue, Model, Profile, load_catalogue
from recommender.types import TIERS, Tier

if TYPE_CHECKING:
    from recommender.classifier import Classifier
    from recommender.config import Settings
    from recommender.conversation import ConversationRouter


class Session:
    """Settings, catalogue, classifier, the Ollama server of each tier, and the warnings channel."""

    def __init__(self, *, host: str | None = None, memory: str | None = None, encoder: str = "static",
                 log: bool = True):
        self.host_flag = host
        self.memory = memory
        self.encoder_name = encoder
        self.log = log
        self.warnings: list[str] = []
        self._servers: dict[str, ollama_client.Server] = {}
        self._listings: dict[str, dict[str, ollama_client.InstalledModel]] = {}

    # --- the warnings channel -------------------------------------------------------------------

    def warn(self, message: str | None) -> None:
        if message and message not in self.warnings:
            self.warnings.append(message)

    def drain_warnings(self) -> list[str]:
        """The warnings so far, each once; the channel starts empty again."""
        out, self.warnings = self.warnings, []
        return out

    # --- loaded once ----------------------------------------------------------------------------

    @cached_property
    def settings(self) -> Settings:
        from recommender import config  # keeps `taskprof profiles` from parsing settings it never reads

        settings = config.load()
        for message in settings.warnings:
            self.warn(message)
        return settings

    @cached_property
    def catalogue(self) -> Catalogue:
        catalogue = load_catalogue()
        for message in catalogue.warnings:
            self.warn(message)
        return catalogue

    @cached_property
    def classifier(self) -> Classifier:
        """The personal head when there is a sound one; a damaged one is reported and passed over."""
        # Not at module level: numpy and the classifier cost ~60 ms, and `profiles`, `status`,
        # `install` and `config` never classify.
        from recommender import classifier as clf_mod
        from recommender import paths

        try:
            model = clf_mod.load(self.encoder_name)
            if model.personal:
                model.predict(["a probe that exercises every array of the head"], similar=1)
            return model
        except (ArtifactError, ValueError, IndexError, KeyError) as exc:
            personal = paths.personal_model_dir()
            if self.encoder_name != "static" or not (personal / "manifest.json").exists():
                raise
            self.warn(f"your personal model in {personal} is damaged ({exc}); using the shipped classifier. "
                      "`taskprof train --reset` removes it, `taskprof train --personal` rebuilds it")
            return clf_mod.load(self.encoder_name, personal=False)

    @cached_property
    def conversation_router(self) -> ConversationRouter:
        """One per session, on its classifier without the nearest examples (a routed turn never shows
        them; they are most of a prediction's cost): the router caches its reading of each turn."""
        from recommender.conversation import ConversationRouter  # with the classifier: ~70 ms, see above

        classifier = self.classifier
        return ConversationRouter(lambda texts: classifier.predict(texts, similar=0))

    @cached_property
    def state(self) -> state_mod.State:
        current = state_mod.load()
        self.warn(current.warning)
        return current

    @cached_property
    def measured(self) -> dict[str, usage.BenchResult]:
        """The latest `taskprof bench` result per model. `logging false` never opens the log; with
        `--no-log` a log that cannot be read is passed over without a warning."""
        if not self.settings.get("logging", True):
            return {}
        found = usage.latest_bench()
        if not self.log:
            usage.pop_warnings()
        return found

    def change_state(self, fn: Callable[[state_mod.State], None]) -> None:
        """Change state.json under its lock; a failed write is a warning (what was done stays done)."""
        try:
            self.__dict__["state"] = state_mod.change(fn)
        except OSError as exc:
            self.warn(f"install state not saved: {exc}")

    def profile(self, name: str) -> Profile:
        return self.catalogue.get_profile(name)

    def logging_on(self) -> bool:
        return self.log and bool(self.settings.get("logging", True))

    # --- where each tier runs -------------------------------------------------------------------

    def host(self, tier: Tier | str) -> str:
        """The server that holds a tier: --host, else the tier's setting, else OLLAMA_HOST / the default."""
        if self.host_flag is not None:
            return ollama_client.resolve_host(self.host_flag)
        configured = self.settings.get(f"{tier}_host")
        return ollama_client.resolve_host(configured) if configured else ollama_client.resolve_host(None)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.host(t) for t in TIERS))

    def machine(self, tier: Tier | str) -> hardware.Machine | None:
        """The memory a tier's model runs in; None for a remote server whose memory was not given.

        `<tier>_host_memory` describes the server `<tier>_host` names, loopback included (an SSH tunnel
        to a GPU box is 127.0.0.1 here), or a remote OLLAMA_HOST. --host sends both tiers elsewhere,
        so it no longer applies."""
        configured = self.settings.get(f"{tier}_host_memory")
        host = self.host(tier)
        local = ollama_client.is_local(host)
        if configured and self.host_flag is None and (self.settings.get(f"{tier}_host") or not local):
            return hardware.Machine(int(configured), None, None, False, f"{tier}_host_memory")
        if local or self.memory:
            return self._local_machine
        return None

    @cached_property
    def _local_machine(self) -> hardware.Machine:
        return hardware.detect(self.memory)

    def fits(self, model: Model) -> bool | None:
        machine = self.machine(model.tier)
        return None if machine is None else hardware.fits(model, machine)

    def where(self, tier: Tier | str) -> str:
        """'this machine's 16 GB' or 'http://gpu-box:11434 (128 GB)', for messages."""
        machine = self.machine(tier)
        size = f"{machine.total_bytes / hardware.GB:.0f} GB" if machine else "its"
        host = self.host(tier)
        return f"this machine's {size}" if ollama_client.is_local(host) and machine is self._local_machine \
            else f"{host} ({size})"

    def tier_choice(self, profile: Profile) -> hardware.TierChoice:
        """Which tier to start with, judged on the machine each tier runs on."""
        quality_machine = self.machine("quality")
        if quality_machine is None:
            host = self.host("quality")
            return hardware.TierChoice(
                "quality",
                f"{profile.model_for('quality').ref} runs on {host}, whose memory taskprof cannot read: "
                "the fit check was skipped (taskprof config set quality_host_memory 128GB)",
                None,
            )
        fast_machine = self.machine("fast") or quality_machine
        if self.host("quality") == self.host("fast") or fast_machine is quality_machine:
            return hardware.recommend_tier(profile, quality_machine)
        choice = hardware.recommend_tier(profile, quality_machine)
        if choice.tier == "quality":
            return hardware.TierChoice("quality", f"{choice.reason} ({self.host('quality')})", None)
        return hardware.recommend_tier(profile, fast_machine)

    # --- the servers ----------------------------------------------------------------------------

    def server(self, host: str, *, read_timeout: float | None = ollama_client.PULL_READ_TIMEOUT) -> ollama_client.Server:
        key = f"{host} {read_timeout}"
        if key not in self._servers:
            self._servers[key] = ollama_client.Server(host, read_timeout=read_timeout)
        return self._servers[key]

    def listing(self, host: str, *, fresh: bool = False) -> dict[str, ollama_client.InstalledModel]:
        """What a server holds, asked once per session unless `fresh`."""
        if fresh or host not in self._listings:
            self._listings[host] = self.server(host).installed()
        return self._listings[host]

    def forget(self) -> None:
        """Drop what this session read of the install state and the servers' model lists: a change
        made under the state lock plans from what is true now, not from what another process changed."""
        self.__dict__.pop("state", None)
        self._listings.clear()

    def set_listing(self, host: str, models: dict[str, ollama_client.InstalledModel]) -> None:
        """Take a server's model list fetched elsewhere (serve reads /api/tags itself, asynchronously)."""
        self._listings[host] = models

    def chat_server(self, host: str) -> ollama_client.Server:
        """A server for answers: a big model may take minutes to load before the first token."""
        return self.server(host, read_timeout=ollama_client.CHAT_READ_TIMEOUT)
