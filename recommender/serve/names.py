"""Names serve understands: virtual model names, the listen address, the URL a client should use."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import cast

from recommender.errors import InputError
from recommender.types import Tier

PREFIX = "taskprof/"
AUTO = "auto"
TIERS = ("fast", "quality")
DEFAULT_PORT = 11435
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
PROFILE_HEADER = "X-Taskprof-Profile"
TIER_HEADER = "X-Taskprof-Tier"
ROUTE_HEADER = "X-Taskprof-Route"
# A key shorter than this is a password anyone can guess over a LAN; whitespace around it is a copy slip.
MIN_KEY_LENGTH = 16


class NotServed(Exception):
    """A request this server answers with an error status (the endpoint decides the error's shape)."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Virtual:
    """A parsed virtual model name: `profile` None means auto, `tier` None means "the one that fits"."""

    profile: str | None
    tier: Tier | None

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.profile or AUTO}:{self.tier or 'latest'}"


def parse_virtual(name: str) -> Virtual | None:
    """`taskprof/...` names; None for a real model. An unknown tag is an error, not a real model."""
    if not name.startswith(PREFIX):
        return None
    base, _, tag = name[len(PREFIX):].partition(":")
    tier = None if tag in ("", "latest") else tag
    if tier is not None and tier not in TIERS:
        raise NotServed(404, f"model '{name}' not found: a taskprof model's tag is latest, fast or quality")
    if base == AUTO:
        if tier is not None:
            raise NotServed(404, f"model '{name}' not found: taskprof/auto picks the tier itself")
        return Virtual(None, None)
    return Virtual(base, cast("Tier | None", tier))


# --- the listen address ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Listen:
    host: str  # an IP address or "localhost"
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        return ipaddress.ip_address(self.host).is_loopback

    @property
    def unspecified(self) -> bool:
        return self.host != "localhost" and ipaddress.ip_address(self.host).is_unspecified

    @property
    def url(self) -> str:
        """The address as bound (for messages about binding)."""
        return _url(self.host, self.port)

    def client_url(self) -> str:
        """The URL a client should use: an unspecified address (0.0.0.0, ::) is no place to connect to,
        so this machine's loopback of the same family stands for it."""
        if self.unspecified:
            return _url("::1" if ":" in self.host else "127.0.0.1", self.port)
        return self.url


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_listen(text: str) -> Listen:
    """HOST:PORT, :PORT (loopback), [v6]:PORT, or a bare HOST (port 11435); HOST is an IP address or
    localhost (a name is not bound: it may resolve to anything, and to another address tomorrow)."""
    raw = text.strip()
    host, port = raw, str(DEFAULT_PORT)
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InputError(f"--listen '{text}': a bracketed IPv6 address needs its ']'")
        host, rest = raw[1:end], raw[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"--listen '{text}': expected [ADDRESS]:PORT")
            port = rest[1:]
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    elif raw.count(":") > 1:
        raise InputError(f"--listen '{text}': write an IPv6 address in brackets, e.g. [::1]:{DEFAULT_PORT}")
    host = host or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"--listen '{text}': the port must be a number from 0 to 65535")
    if host.lower() == "localhost":
        return Listen("localhost", int(port))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise InputError(f"--listen '{text}': '{host}' is not an IP address; give HOST:PORT with an address "
                         f"such as 127.0.0.1, [::1] or 0.0.0.0 (all interfaces), e.g. "
                         f"--listen 127.0.0.1:{DEFAULT_PORT}") from None
    if ":" in host and not raw.startswith("["):
        raise InputError(f"--listen '{text}': write an IPv6 address in brackets, e.g. [::1]:{DEFAULT_PORT}")
    return Listen(str(address), int(port))


def clean_key(key: str | None, source: str) -> str | None:
    """The configured key without surrounding whitespace; a usage error when it is empty or short."""
    if key is None:
        return None
    stripped = key.strip()
    if not stripped:
        raise InputError(f"{source} is empty")
    if len(stripped) < MIN_KEY_LENGTH:
        raise InputError(f"{source} is {len(stripped)} characters: use at least {MIN_KEY_LENGTH} "
                         "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    return stripped


def bind(listen: Listen) -> socket.socket:
    """The listening socket, bound before the server starts so that a taken port is a one-line error."""
    from recommender.errors import TaskprofError

    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    # proto named, not 0: asyncio turns Nagle's algorithm off only on sockets whose proto is TCP, and
    # with it on, every response whose headers and body are written apart waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    host = "127.0.0.1" if listen.host == "localhost" else listen.host
    try:
        sock.bind((host, listen.port))
    except OSError as exc:
        sock.close()
        raise TaskprofError(f"cannot listen on {listen.url}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock
