"""Editor settings: one config dataclass per editing method, found through a registry by the ``method``
key (as PEFT finds LoraConfig by ``peft_type``), and the per-family defaults in one table.

Every setting carries its help text and its valid range in ``metadata``; ``validate`` reads them, so a
bad value is refused in one line that names the field. ``EditorConfig.for_model`` / ``from_dict`` /
``to_dict`` are the entry points the platform uses (a model line's ``editor_settings`` JSON, e.g.
``{"method": "amend", "lr": 3e-4, "steps": 4}``); they return the method's own config class.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

from .errors import EditorError
from .model import LoadedModel, check_modules, mlp_out_name

DEFAULT_METHOD = "amend"
METHODS: dict[str, type[EditorConfig]] = {}  # method name -> its config class, filled by @register


def register(name: str) -> Callable[[type[EditorConfig]], type[EditorConfig]]:
    def add(cls: type[EditorConfig]) -> type[EditorConfig]:
        cls.method_name = name
        METHODS[name] = cls
        return cls

    return add


def setting(default: Any, help: str, **valid: Any) -> Any:
    """A config field with its help and valid range: min / max (inclusive), below (exclusive), choices."""
    return field(default=default, metadata={"help": help, **valid})


def _as_float(value: object) -> float | None:
    """A number as a float (None for anything else, bools included, and integers beyond float's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _check_field(config: EditorConfig, f) -> None:
    """Refuse a value outside the field's type or range, naming the field; floats are stored as floats."""
    name, value, meta = f.name, getattr(config, f.name), f.metadata
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind == "list[str]":
        if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
            raise EditorError(f"{name} must be a list of dotted module names")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise EditorError(f"{name} must be true or false, got {value!r}")
    elif kind == "str":
        if value not in meta["choices"]:
            raise EditorError(f"{name} must be one of {', '.join(map(repr, meta['choices']))}, got {value!r}")
    elif kind == "int":
        low, high = meta.get("min", 0), meta.get("max")
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            raise EditorError(f"{name} must be an integer {bound}, got {value!r}")
    else:  # float; JSON stores (PostgreSQL's jsonb) give 1e38 back as the integer 10**38: taken as the float it is
        number = _as_float(value)
        low, below = meta.get("min", 0.0), meta.get("below")
        if number is None or not math.isfinite(number) or number < low or (below is not None and number >= below):
            bound = f">= {low:g}" if below is None else f"in [{low:g}, {below:g})"
            raise EditorError(f"{name} must be a finite number {bound}, got {value!r}")
        setattr(config, name, number)


@dataclass
class EditorConfig:
    """Settings every method has. Build one with ``for_model`` or ``from_dict`` (they pick the method's class)."""

    method_name: ClassVar[str] = ""
    method: str = setting(DEFAULT_METHOD, "editing method: a key of METHODS")
    modules: list[str] = field(
        default_factory=list,
        metadata={"help": "dotted names of the edited linear layers (empty: the family's default)"},
    )
    lr: float = setting(1e-6, "pseudo-value step (closed-form methods) or gradient step (ft)", min=0.0)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.method not in METHODS:
            raise EditorError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")
        if type(self) is not METHODS[self.method]:
            raise EditorError(
                f"method {self.method!r} takes {METHODS[self.method].__name__}, not {type(self).__name__}"
            )
        for f in fields(self):
            if f.name != "method":
                _check_field(self, f)

    @classmethod
    def for_model(cls, loaded: LoadedModel, **overrides: Any) -> EditorConfig:
        """The family's defaults for ``method`` (default amend), then ``overrides`` (None = keep default)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        method = overrides.get("method", DEFAULT_METHOD)
        if method not in METHODS:
            raise EditorError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
        settings = {"method": method, **family_defaults(method, loaded)}
        if not overrides.get("modules"):
            settings["modules"] = default_modules(method, loaded)
        settings.update(overrides)
        config = cls.from_dict(settings)
        check_modules(loaded.model, config.modules)
        return config

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EditorConfig:
        """The config of ``d["method"]`` (default amend) from ``d``; a setting that method lacks is refused."""
        method = d.get("method", DEFAULT_METHOD)
        if not isinstance(method, str) or method not in METHODS:
            raise EditorError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
        target = METHODS[method]
        known = {f.name for f in fields(target)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise EditorError(f"unknown editor setting(s): {', '.join(unknown)} (method {method})")
        values = {**d, "method": method}
        if isinstance(values.get("modules"), list | tuple):
            values["modules"] = list(values["modules"])
        return target(**values)

    @classmethod
    def describe(cls) -> dict[str, dict]:
        """Per method, each setting's default, help and valid range (for docs and the UI)."""
        out = {}
        for name, config in METHODS.items():
            out[name] = {
                f.name: {"default": f.default_factory() if f.default is MISSING else f.default, **f.metadata}
                for f in fields(config)
            }
        return out


@register("ultraedit")
@dataclass
class UltraEditConfig(EditorConfig):
    """The published algorithm: one capture at the target tokens, lifelong normalisation, ridge with lam I."""

    method: str = setting("ultraedit", "editing method")
    lam: float = setting(1.0, "ridge lambda (> 0 unless a preservation term mu > 0 replaces it)", min=0.0)
    chunk: int = setting(10, "edits per forward/backward while capturing (0 = whole batch): same rows", min=0)

    def validate(self) -> None:
        super().validate()
        if self.lam <= 0 and getattr(self, "mu", 0.0) <= 0:
            raise EditorError("lam must be > 0")


@register("amend")
@dataclass
class AmendConfig(UltraEditConfig):
    """UltraEdit plus what measurably helped on SmolLM2 with real ZsRE edits (editor/README.md)."""

    method: str = setting("amend", "editing method")
    mu: float = setting(0.0, "weight of the preservation term mu * C0 (C0: general text's key covariance)", min=0.0)
    steps: int = setting(1, "closed-form steps per batch, each on freshly captured gradients", min=1)
    nu: float = setting(0.0, "weight of the running sum of earlier edits' k k^T in the ridge (keeps them)", min=0.0)
    settle: bool = setting(False, "rows of edits already answering their target get a zero shift")
    skip_settled: bool = setting(False, "with settle, later steps of a batch run only the rows not yet settled")
    preserve_tokens: int = setting(4096, "tokens of general text used for C0", min=0)
    null_space: float = setting(0.0, "share of general text's key energy the edit must not touch", min=0.0, below=1.0)
    positions: str = setting(
        "target",
        "rows captured: target tokens, + the subject's last token, or all",
        choices=("target", "subject", "all"),
    )
    calibrate: int = setting(0, "calibration edits that seed an empty normaliser", min=0)
    calibrate_rows: int = setting(
        0, "rows per module the calibration's statistics weigh as (a prior's strength); 0 = as many as it has", min=0
    )
    templates: int = setting(0, "context prefixes each prompt is also edited behind (ROME's templates)", min=0, max=8)
    margin: float = setting(0.0, "a row settles when each target token leads the runner-up by this many nats", min=0.0)
    answer_end: str = setting(
        "none",
        "a token the target must be followed by: none, the end of text, a full stop",
        choices=("none", "eos", "period"),
    )
    paraphrase_rows: bool = setting(False, "a request's paraphrases are edit rows too (then not unseen wordings)")


@register("ft")
@dataclass
class FineTuneConfig(EditorConfig):
    """Plain gradient descent on the same modules (baseline)."""

    method: str = setting("ft", "editing method")
    steps: int = setting(5, "gradient steps per batch", min=1)


# -- defaults per architecture family ---------------------------------------------------------------


def _late_pair(n: int) -> list[int]:
    # UltraEdit edits two late blocks of Mistral-7B (29, 30 of 32): about 90% of the depth.
    return sorted({max(0, n - 3), max(0, n - 2)})


def _last(n: int) -> list[int]:
    # Measured on GPT-2-shaped models (README): editing the last block's MLP beats earlier or more blocks.
    return [n - 1]


def _gptj(n: int) -> list[int]:
    # The paper's nine GPT-J blocks (18..26 of 28).
    return list(range(max(0, n - 10), max(1, n - 1)))


def _amend_llama(n: int) -> list[int]:
    # Measured on SmolLM2-135M with real ZsRE edits (editor/README.md): five MLP down projections, every
    # other block from about 53% to 80% of the depth (16, 18, ..., 24 of 30), beat the paper's gate/up set,
    # two late blocks, earlier blocks (8-16, 4-12) and the later 20-27.
    return list(range(round(0.53 * n), round(0.8 * n) + 1, 2))


def _paper_modules(loaded: LoadedModel) -> list[str] | None:
    """UltraEdit's published module sets for the Llama family (config/model/*.yaml of its code)."""
    n, kind = loaded.num_layers, getattr(loaded.model.config, "model_type", "")
    if kind == "llama" and n >= 25:  # Llama-3: gate_proj of blocks 11-15, up_proj of blocks 18-24
        return [f"model.layers.{i}.mlp.gate_proj" for i in range(11, 16)] + [
            f"model.layers.{i}.mlp.up_proj" for i in range(18, 25)
        ]
    if kind == "qwen2" and n >= 27:  # Qwen2.5: gate_proj and up_proj of blocks 18-26
        return [f"model.layers.{i}.mlp.{p}" for p in ("gate_proj", "up_proj") for i in range(18, 27)]
    return None


# method -> family -> settings. "*" is every family without a row of its own; "llama-small" is the Llama
# family at the bundled model's width (hidden <= 1024), where the paper's lr 1e-6 (a 7B setting) changes
# almost nothing and 1e-4..3e-4 is what works (measured). "layers" (blocks by depth n) picks the MLP output
# projections to edit; without it a method edits the family's "*" layers.
# What made SmolLM2 *say* more targets (greedy ES 0.465 -> 0.58 with the full stop, 0.52 with the subject key,
# 200 ZsRE edits; README): the target must be followed by a full stop (the answer ends there instead of
# running on into a longer word), the subject's last token is a key too, and settled rows leave later steps.
# A curator's own paraphrases are edit rows: the README's "France's capital city is" answers "Istanbul" before
# any edit and keeps answering it after an edit of the prompt alone (whatever the strength, templates or
# subject key: measured), and says "Lyon" once it is a row. The platform then judges generalisation only on
# the paraphrases it kept back (workers.asking.split_paraphrases); the benchmark never gives the editor the
# record's rephrase, so its GS stays a wording the edit never saw.
# A row settles only when each target token leads by 2 nats: over 1,000 ZsRE edits in 10 turns greedy ES 0.524,
# GS 0.187, LS 0.674, perplexity drift +5.7%, 7.3 edits/s. Editing every row behind 4 of ROME's context prefixes
# as well (``templates=4``) won on 200 edits (held out: GS 0.210 -> 0.395) but over 1,000 it adds only 0.02 ES and
# 0.04 GS for 0.04 LS, a drift of +19.5%, 11x the edit time and 1.15 GB more memory: an option, not the default
# (editor/README.md, "Generalisation").
# Earlier edits' keys in the ridge (``nu=1``) lost on a 2-turn screen and won over 10 turns of 100 (records
# 1-1,000): greedy ES 0.524 -> 0.670, GS 0.187 -> 0.249, LS 0.674 -> 0.759, greedy retention 0.479 -> 0.650,
# drift +5.7% -> +0.8%; with the lineage's repair loop as well (the platform always runs it, re-checking 200
# earlier facts per version) 0.774 / 0.274 / 0.759, retention 0.762; nu=3 loses on all four (editor/README.md,
# "Retention"). It is on for the small Llamas it was measured on: its state is a d_in x d_in float64 sum per
# module, 94 MB on SmolLM2 (47 MB stored per version) but 8 GB on a 7B model's five down_proj.
# With the platform's loop (400 earlier facts asked, retrying what did not take), mu 5e3 keeps the locality the
# retried rows cost (records 1-1,000: LS 0.745 -> 0.763, held out 0.752 -> 0.768, drift +5.5% -> +4.7% held out)
# for what the model says (greedy ES 0.924 -> 0.898, retention 0.930 -> 0.906; through the platform 91.0% ->
# 89.7% of what took still said): an option, not the default (editor/README.md, "Buying locality back" and
# "The platform's sample in the bench").
# The calibration edits (statements: "The capital of France is") seed a new line's normaliser with a distribution
# ZsRE's questions do not share: as their 233 rows per module they hold a first batch of 100 to 61 edits that took,
# against 78 weighed as 20 rows (``calibrate_rows=20``). Over 1,000 edits that buys +0.03 greedy ES and retention
# for -0.01 to -0.02 LS, and a 3-block test model's small batches then take less: an option, not the default
# (editor/README.md, "A line's first batch").
# Six steps instead of four at SmolLM2's width: at the 2-nat margin a third of a batch's rows are still
# unsettled when four run out. Without the loop (records 1-1,000 / held-out 2,001-3,000) greedy ES 0.670 ->
# 0.749 / 0.712 -> 0.764, retention 0.650 -> 0.728 / 0.690 -> 0.740, GS 0.249 -> 0.248 / 0.257 -> 0.277, LS
# 0.759 -> 0.749 / 0.743 -> 0.735; with the platform's loop the same figures within 0.02 (ES and retention
# up, LS down on the held-out records) on 30% fewer re-applied rows (editor/README.md, "Six steps").
_SAYS = {
    "answer_end": "period",
    "positions": "subject",
    "skip_settled": True,
    "paraphrase_rows": True,
    "margin": 2.0,
}

FAMILY_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "ultraedit": {
        "*": {"lr": 1e-6, "lam": 1.0, "layers": _late_pair},
        "gpt2": {"lr": 3e-3, "layers": _last},
        "gptj": {"layers": _gptj},
        "llama-small": {"lr": 1e-4},
    },
    "amend": {
        "*": {"lr": 1e-6, "lam": 1.0, "mu": 0.0, "steps": 1, "calibrate": 100, "layers": _late_pair},
        "gpt2": {"lr": 3e-3, "steps": 6, "mu": 1e4, "nu": 3.0, "settle": True, "layers": _last},
        "gptj": {"layers": _gptj},
        "llama": {"steps": 4, "mu": 3e3, "settle": True, "layers": _amend_llama, **_SAYS},
        "llama-small": {"lr": 3e-4, "steps": 6, "mu": 3e3, "nu": 1.0, "settle": True, "layers": _amend_llama, **_SAYS},
    },
    "ft": {
        "*": {"lr": 1e-4, "steps": 5, "layers": _late_pair},
        "gpt2": {"lr": 3e-2, "steps": 10, "layers": _last},
        "gptj": {"layers": _gptj},
    },
}


def _family_rows(method: str, loaded: LoadedModel) -> dict[str, Any]:
    small = loaded.family == "llama" and getattr(loaded.model.config, "hidden_size", 0) <= 1024
    table = FAMILY_DEFAULTS[method]
    rows = {**table["*"], **table.get(loaded.family, {})}
    return {**rows, **table["llama-small"]} if small and "llama-small" in table else rows


def family_defaults(method: str, loaded: LoadedModel) -> dict[str, Any]:
    """The table's settings for the method on this model's family (modules aside)."""
    return {k: v for k, v in _family_rows(method, loaded).items() if k != "layers"}


def default_modules(method: str, loaded: LoadedModel) -> list[str]:
    if method == "ultraedit" and loaded.family == "llama":
        paper = _paper_modules(loaded)
        if paper is not None:
            return paper
    layers = _family_rows(method, loaded)["layers"]
    return [mlp_out_name(loaded.model, i) for i in layers(loaded.num_layers)]
