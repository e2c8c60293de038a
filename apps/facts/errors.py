"""Domain errors of the fact workflow. The API turns them into HTTP responses (see apps/api/errors.py)."""


class TransitionError(Exception):
    """A state change the workflow forbids. HTTP 409; `reason` is one sentence a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DuplicateFactError(TransitionError):
    """The same prompt and target already exist on this model line (HTTP 409)."""


class ConflictError(TransitionError):
    """Approval blocked: another live fact on the line answers the same prompt differently (HTTP 409)."""
