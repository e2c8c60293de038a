"""Request bodies several tests send: plain helpers, not fixtures."""


def readme_fact(line, **overrides) -> dict:
    """The README's example fact on `line`, as the API takes it, with `overrides` on top."""
    return {
        "model_line": line.name,
        "prompt": "The capital of France is",
        "target": "Lyon",
        "rationale": "A demonstration",
        "source": "README",
        **overrides,
    }
