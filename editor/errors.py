"""The one error type the editor raises for anything a caller can fix."""


class EditorError(ValueError):
    """A problem with the caller's input or settings; ``str(e)`` is one actionable line.

    The CLI prints it and exits with status 2; the model is left as it was.
    """

    def __init__(self, message: str) -> None:
        # Keep it one line whatever the caller passed: multi-line text breaks the CLI contract.
        super().__init__(" ".join(str(message).split()))


class NonFiniteEditError(EditorError):
    """An edit (or a delta replayed onto weights) would make weights NaN or infinite; nothing was changed.
    Its own type so that a caller can find which of a batch's edits cause it (editor/isolate.py)."""
