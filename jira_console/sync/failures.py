"""Failures told without the data they were about: a database error quotes the statement and the row it
carried (summary, description...), and such text must never be stored, logged or printed. Here a failure
becomes a kind (the exception's class) and a cause (what rule broke, which constraint), nothing more."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

# What a driver's message says after the rule: the statement, the parameters, PostgreSQL's DETAIL and any
# quoted literal (``invalid input syntax for type integer: "…"``). Constraint names come from diag.
_TAIL = re.compile(r"\[SQL:|\[parameters:|\(Background on this error|\n\s*DETAIL:|\nLINE \d", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


@dataclass(frozen=True)
class Failure:
    """What went wrong, fit to store and show: ``kind`` (an exception class) and ``cause`` (one line)."""

    kind: str
    cause: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.cause}"


def is_connection_failure(exc: BaseException) -> bool:
    """A failure of the database itself (unreachable, connection lost): nothing to do with one issue."""
    return isinstance(exc, OperationalError | InterfaceError) and not isinstance(exc, IntegrityError)


def describe(exc: BaseException) -> Failure:
    """The kind and cause of ``exc`` without any value it carried."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        orig = exc.orig
        kind = type(orig).__name__
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
        text = _first_line(str(orig))
        if constraint:
            text = f"{_QUOTED.sub('', text).strip()} ({constraint})"
        else:
            text = _QUOTED.sub("…", text)
        return Failure(kind, text or "database error")
    if isinstance(exc, SQLAlchemyError):
        return Failure(type(exc).__name__, "the database refused the write")
    # Any other exception's message may quote a value (a conversion error does): only its class is kept.
    return Failure(type(exc).__name__, "the engine could not apply this version")


def _first_line(text: str) -> str:
    head = _TAIL.split(text, maxsplit=1)[0]
    first = next((line for line in head.splitlines() if line.strip()), "")
    first = re.sub(r"^\([\w.]+\)\s*", "", first.strip())
    return " ".join(first.split())[:300]


class StoreFailure(Exception):
    """A database failure told without the data it was about (see :func:`told_without_data`)."""


@contextlib.contextmanager
def told_without_data() -> Iterator[None]:
    """Let a database error out only as a :class:`StoreFailure` of its kind and cause: its message (with
    the statement and row) and its chain stay behind, so no caller can store, log or print them."""
    try:
        yield
    except SQLAlchemyError as exc:
        failure = describe(exc)
        raise StoreFailure(str(failure)) from None
