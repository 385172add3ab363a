"""serve under hostile or heavy load, with the real uvicorn server (in a thread, or as its own
process where its memory or file descriptors are measured): request deadlines and the connection
cap (net.GuardedH11), bodies in flight, and routing that never stalls the other requests."""

from __future__ import annotations

import asyncio
import json
import random
import resource
import socket
import string
import time

import httpx
import pytest

from recommender import serve
from recommender.serve import net
from tests.serve_support import MODELS, TASKS, ServeProcess, chat_body, start


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _stalled(port: int, first: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        s.sendall(first)
    return s


def _closed(s: socket.socket) -> bool:
    """Has the server closed this connection? (a read returns end-of-file or a reset)."""
    s.setblocking(False)
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _wait_closed(conns: list[socket.socket], seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if all(_closed(s) for s in conns):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{sum(not _closed(s) for s in conns)} of {len(conns)} connections still open")


@pytest.fixture
def tight(monkeypatch, fake):
    """serve in a thread with short deadlines (1 s head, 1 s body, 1 s keep-alive) and 40 connections."""
    monkeypatch.setattr(net.GuardedH11, "head_timeout", 1.0)
    monkeypatch.setattr(net.GuardedH11, "body_timeout", 1.0)
    monkeypatch.setattr(net.GuardedH11, "max_connections", 40)
    url, _app, stop = start(serve.ServeSession(host=fake.host, memory="128GB"), config={"timeout_keep_alive": 1})
    try:
        yield url
    finally:
        stop()


def test_slow_or_silent_clients_are_dropped_after_the_head_deadline(tight):
    port = _port(tight)
    silent = [_stalled(port, b"") for _ in range(5)]
    partial = [_stalled(port, b"GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(5)]
    body = [_stalled(port, b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"mo")
            for _ in range(3)]
    # A real client is served meanwhile.
    assert httpx.get(tight + "/api/tags").status_code == 200
    assert _wait_closed(silent + partial + body, 5) < 4
    # A trickle (a byte every 0.2 s) is no way round it: the deadline counts from the first byte.
    trickle = _stalled(port, b"G")
    started = time.monotonic()
    for byte in b"ET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
        try:
            trickle.sendall(bytes([byte]))
        except OSError:
            break
        time.sleep(0.2)
    _wait_closed([trickle], 3)
    assert time.monotonic() - started < 4


def test_an_idle_kept_alive_connection_is_closed_and_a_new_request_on_it_gets_the_deadline(tight):
    s = _stalled(_port(tight), b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.settimeout(5)
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    assert _wait_closed([s], 3) < 2.5  # keep-alive 1 s
    again = _stalled(_port(tight), b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    again.settimeout(5)
    assert again.recv(4096).startswith(b"HTTP/1.1 200")
    again.sendall(b"GET / HTTP/1.1\r\n")  # the second request never finishes its head
    assert _wait_closed([again], 3) < 2.5


def test_past_the_connection_cap_the_longest_waiting_connection_makes_room(tight):
    port = _port(tight)
    idle = [_stalled(port, b"") for _ in range(60)]  # the cap is 40
    time.sleep(0.3)
    with httpx.Client() as client:
        assert client.get(tight + "/api/tags").status_code == 200
    closed = sum(_closed(s) for s in idle)
    assert closed >= 20
    assert not _closed(idle[-1])  # the newest is not the one closed
    for s in idle:
        s.close()


def test_every_request_is_answered_or_503_with_a_small_in_flight_budget(fake):
    """Bodies beyond the in-flight budget are 503 with Retry-After, never lost; the budget comes back."""
    url, app, stop = start(serve.ServeSession(host=fake.host, memory="128GB"), bodies_in_flight=3 << 20,
                           max_body=3 << 20)
    fake.line_delay = 0.05
    body = json.dumps(chat_body("coder-fast:7b", "x" * (2 << 20))).encode()  # 2 MB: one at a time fits

    async def one(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(url + "/api/chat", content=body)

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(one(client) for _ in range(6)))

    try:
        statuses = [r.status_code for r in asyncio.run(main())]
        assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
        deadline = time.monotonic() + 2
        while app.budget.used:  # given back once each answer's last byte is sent
            assert time.monotonic() < deadline, app.budget.used
            time.sleep(0.01)
        busy = [r for r in asyncio.run(main()) if r.status_code == 503]
        assert all(r.headers["Retry-After"] for r in busy) and all("busy" in r.json()["error"] for r in busy)
        assert httpx.post(url + "/api/chat", content=body, timeout=60).status_code == 200
    finally:
        stop()


def _rss_mb(proc: ServeProcess) -> float:
    return proc.status("VmHWM") / 1024


def test_chats_are_answered_while_a_20000_letter_word_is_routed(fake, taskprof_home):
    """6 small chats in parallel within 3 s while serve routes a 20,000-letter word; peak RSS < 400 MB."""
    rng = random.Random(3)
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(20_000))
    for models in MODELS.values():  # whichever profile the word lands on is installed
        for ref in models:
            fake.install(ref)
    proc = ServeProcess(fake, taskprof_home)
    try:
        proc.wait_ready()

        async def main() -> tuple[list[float], httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as client:
                async def small(i: int) -> float:
                    started = time.monotonic()
                    r = await client.post(proc.url + "/api/chat", json=chat_body(
                        "taskprof/auto", TASKS["programming"] + f" #{i}", stream=False))
                    assert r.status_code == 200
                    return time.monotonic() - started

                big = asyncio.create_task(client.post(proc.url + "/api/chat", json=chat_body(
                    "taskprof/auto", f"review {word} " * 3, stream=False)))
                times = await asyncio.gather(*(small(i) for i in range(6)))
                return list(times), await big

        started = time.monotonic()
        times, big = asyncio.run(main())
        assert time.monotonic() - started < 3, times
        assert big.status_code == 200
        assert _rss_mb(proc) < 400
    finally:
        proc.stop()


@pytest.mark.slow
def test_1500_stalled_connections_neither_lock_clients_out_nor_stay(fake, taskprof_home):
    """With the soft file limit at 1,024 (hard 4,096: serve raises it) 1,500 connections that never
    finish their headers: a real client is still served, and they are all closed within 30 s."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    proc = ServeProcess(fake, taskprof_home, nofile=(1024, 4096))
    conns: list[socket.socket] = []
    try:
        proc.wait_ready()
        started = time.monotonic()
        for i in range(1500):
            conns.append(_stalled(proc.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" if i % 2 else b""))
        deadline = time.monotonic() + 10
        while proc.open_files() < 1500:  # the server takes them all: its file limit was raised
            assert time.monotonic() < deadline, proc.open_files()
            time.sleep(0.1)
        t = time.monotonic()
        response = httpx.get(proc.url + "/api/tags", timeout=10)
        assert response.status_code == 200 and time.monotonic() - t < 2
        closed_after = _wait_closed(conns, 30 - (time.monotonic() - started))
        assert closed_after < 30
        assert httpx.get(proc.url + "/api/tags", timeout=10).status_code == 200
    finally:
        for s in conns:
            s.close()
        proc.stop()


@pytest.mark.slow
def test_16_concurrent_30_mb_bodies(fake, taskprof_home):
    """Each answered (200) or refused for now (503 with Retry-After); peak RSS < 600 MB."""
    proc = ServeProcess(fake, taskprof_home)
    body = json.dumps(chat_body("taskprof/auto", "summarise this: " + "lorem ipsum " * ((30 << 20) // 12),
                                stream=False)).encode()[: (30 << 20) - 64]
    body = body[: body.rfind(b"lorem")] + b'"}], "stream": false}'
    assert 29 << 20 < len(body) <= 30 << 20 and json.loads(body)

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=32)) as client:
            async def one() -> int:
                r = await client.post(proc.url + "/api/chat", content=body)
                assert r.status_code in (200, 503), r.text[:200]
                if r.status_code == 503:
                    assert r.headers["Retry-After"]
                return r.status_code
            return await asyncio.gather(*(one() for _ in range(16)))

    try:
        proc.wait_ready()
        statuses = asyncio.run(main())
        assert len(statuses) == 16 and 200 in statuses
        assert _rss_mb(proc) < 600, _rss_mb(proc)
    finally:
        proc.stop()
