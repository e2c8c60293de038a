"""The refusal every app raises when the workflow forbids a change now (HTTP 409).

It lives on the floor under the apps because accounts, facts, releases, model lines and the workers
all raise or catch it; `amend/refusals.py` maps it (with PermissionDenied and ValidationError) to HTTP codes.
"""


class TransitionError(Exception):
    """A state change the workflow forbids. HTTP 409; `reason` is one sentence a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
