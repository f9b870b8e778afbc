"""The facade's refusals: a request that names nothing stored, or that contradicts what is stored. The CLI
and the API turn them into an exit code or an HTTP status (404, 409) with the message as it is."""

from __future__ import annotations


class NotFound(LookupError):
    """Nothing is stored under the id or name asked for (a mapping, a webhook event, a command)."""

    exit_code = 3


class StateConflict(Exception):
    """The request contradicts the stored state: a mapping that already exists, a rename through an update,
    an event a worker is processing right now."""

    exit_code = 2
