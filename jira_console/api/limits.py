"""The operations API's bound on request bodies: a body larger than the limit is answered 413 before it is
read (by its ``Content-Length``) or as soon as the stream passes the limit. Bodies are read before
authentication, so without this anyone reaching the port could make the daemon buffer any amount. Jira's
receiver route is left to the webhook listener's own limit (the same number), which it applies itself."""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jira_console.api.errors import error_response


class BodyLimit:
    """Pure ASGI middleware: reads the body (up to the limit) before the app does, then replays it."""

    def __init__(self, app: ASGIApp, limit: int, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = error_response(
            413, f"the body is larger than {self.limit} bytes", headers={"Connection": "close"}
        )
        await answer(scope, receive, send)


def _replay(first: list[Message], receive: Receive) -> Receive:
    """``first`` messages, then the connection's own (a later disconnect)."""
    pending = list(first)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
