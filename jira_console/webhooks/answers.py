"""The listener's answers: JSON bodies, and the two common ones built once for every request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


def json_answer(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    """``body`` as a JSON answer."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class SharedAnswer(Response):
    """An answer built once and sent to many requests: each send gets its own list of headers, so a
    middleware that edits the headers of the message it passes on cannot change the next answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code, "headers": list(self.raw_headers)}
        await send(start)
        await send({"type": "http.response.body", "body": self.body})


STORED = SharedAnswer(orjson.dumps({"status": "stored"}), 202, media_type="application/json")
DUPLICATE = SharedAnswer(orjson.dumps({"status": "duplicate"}), 202, media_type="application/json")
"""The two common answers (building a Response for each was a tenth of the handler's own time)."""
