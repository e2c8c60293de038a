"""Refusals particular to facts; both are TransitionErrors, so the API answers them with HTTP 409."""

from apps.core.errors import TransitionError


class DuplicateFactError(TransitionError):
    """The same prompt and target already exist on this model line (HTTP 409)."""


class ConflictError(TransitionError):
    """Approval blocked: another live fact on the line answers the same prompt differently (HTTP 409)."""
