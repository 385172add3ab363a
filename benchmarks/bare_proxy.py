"""The least a streaming proxy on serve's stack can add (Starlette, uvicorn with h11, httpx; no gate,
validation, routing or log), for benchmarks/bench_serve_floor.py: python bare_proxy.py PORT UPSTREAM"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2]
    client = httpx.AsyncClient(timeout=60)

    async def chat(request: Request) -> Response:
        body = await request.body()
        sent = client.build_request("POST", upstream + "/api/chat", content=body,
                                    headers={"content-type": "application/json"})
        answer = await client.send(sent, stream=True)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:
                await answer.aclose()

        return StreamingResponse(chunks(), media_type="application/x-ndjson")

    async def root(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/api/chat", chat, methods=["POST"]), Route("/", root)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="h11")


if __name__ == "__main__":
    main()
