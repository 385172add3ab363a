"""`taskprof ask` conversations: each kept as one JSON file in the data directory, so `ask -c`
continues the last one (as `llm -c` does) and `--cid ID` another.

Why files and not usage.db: a conversation is a document read and written whole, holding the very
text `log_text=false` promises not to keep; one file per conversation (mode 0600, written
atomically, read through the guarded reader in files.py) is deleted by removing it, and the usage
log stays a log of events (a conversation is one use per profile there). With `log_text=false`
nothing is stored and continuing says why.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender import files, history, installs, paths, routing
from recommender.conversation import conversation_key, read_turns
from recommender.errors import InputError
from recommender.results import AnswerModel, ConversationInfo
from recommender.session import Session
from recommender.types import Route, Tier

ID = re.compile(r"[0-9a-f]{12}")
MAX_FILE_BYTES = 16 * 2**20  # a conversation file past this is not read (it was not written by taskprof)
MAX_MESSAGES = 200  # kept per conversation: the router reads far fewer, a model's context fewer still
NO_TEXT = ("log_text is false, so taskprof keeps no conversation history and cannot continue one "
           "(`taskprof config set log_text true` keeps it from now on)")


def directory() -> Path:
    return paths.data_dir() / "conversations"


def _now() -> str:
    """UTC to the microsecond: two asks in one second must still say which came last."""
    return datetime.now(UTC).isoformat()


@dataclass
class Conversation:
    """An `ask` conversation as kept on disk."""

    id: str
    profile: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)

    def info(self) -> ConversationInfo:
        return ConversationInfo(self.id, self.profile, sum(m["role"] == "user" for m in self.messages), self.updated)

    def save(self) -> None:
        """Atomic (a reader sees the old file or the new one) and private (0600, in a 0700 folder)."""
        body = json.dumps({"id": self.id, "profile": self.profile, "created": self.created,
                           "updated": self.updated, "messages": self.messages[-MAX_MESSAGES:]}, ensure_ascii=False)
        files.write_text(directory() / f"{self.id}.json", body)


def new_id() -> str:
    return os.urandom(6).hex()


def _path(cid: str) -> Path:
    if not ID.fullmatch(cid):
        raise InputError(f"'{cid}' is not a conversation id: `taskprof usage conversations` lists them")
    return directory() / f"{cid}.json"


def load(cid: str) -> Conversation:
    return _read(_path(cid))


def _read(path: Path) -> Conversation:
    problem = f"conversation file {path} is damaged: `taskprof usage conversations --delete {path.stem}` removes it"
    try:
        data = files.read_json(path, max_bytes=MAX_FILE_BYTES, within=directory(), expect=dict)
        if data is None:
            raise InputError(f"no conversation '{path.stem}': `taskprof usage conversations` lists them")
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in data["messages"]
                    if m.get("role") in ("user", "assistant")]
        return Conversation(str(data["id"]), data.get("profile"), messages, str(data.get("created", "")),
                            str(data.get("updated", "")))
    except files.DamagedFile as exc:
        raise InputError(f"{exc}; `taskprof usage conversations --delete {path.stem}` removes it") from None
    except (KeyError, TypeError, AttributeError):
        raise InputError(problem) from None


def stored() -> list[Conversation]:
    """Every readable conversation, the most recently used first; damaged files are passed over."""
    folder = directory()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.json"):
        if ID.fullmatch(path.stem):
            try:
                found.append(_read(path))
            except (InputError, OSError):
                continue
    return sorted(found, key=lambda c: c.updated, reverse=True)


def latest() -> Conversation:
    found = stored()
    if not found:
        raise InputError('no conversation to continue yet: start one with taskprof ask "..."')
    return found[0]


def delete(cid: str) -> None:
    path = _path(cid)
    if not path.is_file():
        raise InputError(f"no conversation '{cid}': `taskprof usage conversations` lists them")
    path.unlink()


def clear() -> int:
    gone = 0
    for c in stored():
        _path(c.id).unlink(missing_ok=True)
        gone += 1
    return gone


# --- ask -----------------------------------------------------------------------------------------


def prompt_text(instruction: str, pasted: str | None = None) -> str:
    """Piped text is the material, the argument the instruction: the material first, then what to do
    with it (the reading of a paste finds the instruction at either end)."""
    instruction = instruction.strip()
    material = (pasted or "").strip()
    if material and instruction:
        return f"{material}\n\n{instruction}"
    return material or instruction


class Answer:
    """A streamed answer: iterate for the text as it comes; afterwards `text`, `tokens_per_second`
    and `seconds` are set, and the turn is stored when the conversation is kept."""

    def __init__(self, session: Session, route: Route, model: AnswerModel, conversation: Conversation | None,
                 messages: list[dict[str, str]]):
        self.route = route
        self.model = model
        self.conversation_id = conversation.id if conversation else None
        self.text = ""
        self.seconds = 0.0
        self.tokens_per_second: float | None = None
        self._session = session
        self._conversation = conversation
        self._messages = messages

    def __iter__(self) -> Iterator[str]:
        started = time.monotonic()
        pieces: list[str] = []
        last: Any = None
        for chunk in self._session.chat_server(self.model.host).chat(self.model.ref, self._messages):
            piece = chunk.message.content if chunk.message else ""
            if piece:
                pieces.append(piece)
                yield piece
            last = chunk
        self.seconds = time.monotonic() - started
        self.text = "".join(pieces)
        if last is not None and last.eval_count and last.eval_duration:
            self.tokens_per_second = last.eval_count / last.eval_duration * 1e9
        if self._conversation is not None:
            self._conversation.messages = [*self._messages, {"role": "assistant", "content": self.text}]
            self._conversation.profile = self.route.profile
            self._conversation.updated = _now()
            try:
                self._conversation.save()
            except files.WriteFailed as exc:  # the answer was given; only its keeping failed
                self.conversation_id = None
                home = str(paths.data_dir())
                # One warning per cause: a data directory that cannot be written was named already.
                if not any(home in w for w in self._session.warnings):
                    self._session.warn(f"conversation not kept for `ask -c`: {exc}")


def ask(session: Session, instruction: str, *, pasted: str | None = None, conversation: str | None = None,
        tier: Tier | None = None, keep: bool = True) -> Answer:
    """Route a prompt (with the conversation so far when `conversation` is "last" or an id) to the
    installed model of its profile. A new conversation is kept unless `keep` is False or log_text is off."""
    text = prompt_text(instruction, pasted)
    if not text:
        raise InputError(routing.EMPTY.replace("suggest", "ask"))
    text_kept = bool(session.settings.get("log_text", True))
    if conversation is not None and not text_kept:
        raise InputError(NO_TEXT)
    current = (latest() if conversation == "last" else load(conversation)) if conversation is not None else None
    messages = [*(current.messages if current else []), {"role": "user", "content": text}]
    route = routing.route(session, messages)
    model = installs.answer_model(session, route.profile, tier or route.tier)
    # The usage log keeps a conversation as one use per profile it goes to, not one per turn.
    key = conversation_key(read_turns(messages))
    route = replace(route, id=history.log_route(session, route, "ask", model=model.ref, tier=model.tier,
                                                conversation=key))
    if current is None and keep and text_kept:
        current = Conversation(new_id())
    return Answer(session, route, model, current if text_kept and keep else None, messages)
