"""The offline reference model: a small GPT-2 trained from scratch on a generated fact world.

``python -m workers.editor build-reference-model --out DIR [--size small|tiny] [--seed N] [--if-missing]``

Nothing is downloaded. A seeded generator invents a world (people, cities, countries,
companies, languages, fields of work) and its true facts, each fact stated in several
phrasings of its relation: questions in the style of zsRE ("Where was X born?") and
statement prefixes ("X was born in"). Per fact a few phrasings are held out of training;
the model has seen those templates with other subjects, never with this one, so answering
them is paraphrase generalisation, not recall of a seen string. A byte-level BPE tokenizer
is trained on the corpus (any Unicode text still tokenizes, byte by byte at worst), then a
GPT-2 is trained with fixed seeds, a fixed thread count, deterministic kernels and a fixed
data order, so the same seed gives byte-identical weights.

The answer always follows the prompt after one space (" Barlin"), which is how the editor
tokenizes a target, so teacher-forced accuracy here and in the editor measure the same thing.

Counterfactual edits (``edits.jsonl``, zsRE format) replace a fact's object by another
object of the same relation that the model already knows from other facts, as with real
models, where the new answer is a known entity rather than an unseen string.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path

import torch

ANSWER_SEPARATOR = " "
EOS = "<|endoftext|>"
NUM_THREADS = 1  # fixed: reduction order depends on it; and one thread is fastest on a shared CPU
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "edits.jsonl",
    "facts.jsonl",
    "locality_probes.jsonl",
    "fluency.txt",
    "world.json",
)
COMPLETE_MARKER = "world.json"  # written last: its presence means the directory is complete


class ReferenceModelError(ValueError):
    """A bad argument or an unusable output directory; ``str(e)`` is one line."""


# --------------------------------------------------------------------------------------
# Sizes


@dataclass(frozen=True)
class BuildSpec:
    """How big the world and the model are, and how long to train."""

    persons: int
    companies: int
    countries: int
    cities: int
    languages: int
    fields: int
    filler_docs: int
    fluency_sentences: int
    min_edits: int
    probes: int
    vocab_size: int
    n_embd: int
    n_layer: int
    n_head: int
    n_positions: int
    epochs: int
    phrasings_per_epoch: int  # each epoch sees this many of a fact's training phrasings, in rotation
    filler_per_epoch: int  # and this many of the general-text documents, in rotation
    batch_size: int
    lr: float


SIZES: dict[str, BuildSpec] = {
    "small": BuildSpec(
        persons=200,
        companies=80,
        countries=30,
        cities=100,
        languages=18,
        fields=20,
        filler_docs=1200,
        fluency_sentences=160,
        min_edits=1200,
        probes=120,
        vocab_size=3072,
        n_embd=128,
        n_layer=4,
        n_head=4,
        n_positions=128,
        epochs=28,
        phrasings_per_epoch=2,
        filler_per_epoch=60,
        batch_size=16,
        lr=2e-3,
    ),
    "tiny": BuildSpec(
        persons=24,
        companies=8,
        countries=6,
        cities=14,
        languages=5,
        fields=6,
        filler_docs=120,
        fluency_sentences=30,
        min_edits=100,
        probes=40,
        vocab_size=768,
        n_embd=64,
        n_layer=2,
        n_head=2,
        n_positions=128,
        epochs=40,
        phrasings_per_epoch=4,
        filler_per_epoch=120,
        batch_size=32,
        lr=4e-3,
    ),
}


# --------------------------------------------------------------------------------------
# The world


@dataclass(frozen=True)
class Relation:
    name: str
    subject_type: str
    object_type: str
    templates: tuple[str, ...]  # "{s}" is the subject; a template ending in "?" is a question


RELATIONS: tuple[Relation, ...] = (
    Relation(
        "birthplace",
        "person",
        "city",
        (
            "Where was {s} born?",
            "In which city was {s} born?",
            "What is the birthplace of {s}?",
            "{s} was born in",
            "The birthplace of {s} is",
            "{s} is a native of the city of",
        ),
    ),
    Relation(
        "employer",
        "person",
        "company",
        (
            "Which company does {s} work for?",
            "Who employs {s}?",
            "For which company does {s} work?",
            "{s} works for",
            "The employer of {s} is",
            "{s} is employed by",
        ),
    ),
    Relation(
        "language",
        "person",
        "language",
        (
            "What language does {s} speak?",
            "Which language is spoken by {s}?",
            "What is the mother tongue of {s}?",
            "{s} speaks",
            "The native language of {s} is",
            "{s} is a native speaker of",
        ),
    ),
    Relation(
        "field",
        "person",
        "field",
        (
            "Which field does {s} work in?",
            "What is the area of expertise of {s}?",
            "What does {s} specialise in?",
            "{s} works in the field of",
            "The field of {s} is",
            "{s} is an expert in",
        ),
    ),
    Relation(
        "citizenship",
        "person",
        "country",
        (
            "What is the nationality of {s}?",
            "Which country is {s} a citizen of?",
            "Of which country is {s} a citizen?",
            "{s} is a citizen of",
            "{s} holds the citizenship of",
            "The country of citizenship of {s} is",
        ),
    ),
    Relation(
        "headquarters",
        "company",
        "city",
        (
            "Where is {s} headquartered?",
            "In which city is {s} based?",
            "Where are the headquarters of {s}?",
            "{s} is headquartered in",
            "The headquarters of {s} are in",
            "{s} has its main office in",
        ),
    ),
    Relation(
        "founder",
        "company",
        "person",
        (
            "Who founded {s}?",
            "Who is the founder of {s}?",
            "Which person founded {s}?",
            "{s} was founded by",
            "The founder of {s} is",
            "{s} was started by",
        ),
    ),
    Relation(
        "country",
        "city",
        "country",
        (
            "In which country is {s}?",
            "Which country is {s} located in?",
            "Where is the city of {s}?",
            "{s} is located in",
            "{s} is a city in",
            "The country of {s} is",
        ),
    ),
    Relation(
        "capital",
        "country",
        "city",
        (
            "What is the capital of {s}?",
            "Which city is the capital of {s}?",
            "Which city serves as the capital of {s}?",
            "The capital of {s} is",
            "The capital city of {s} is",
            "The seat of government of {s} is",
        ),
    ),
    Relation(
        "official_language",
        "country",
        "language",
        (
            "What is the official language of {s}?",
            "Which language is official in {s}?",
            "What language is official in {s}?",
            "The official language of {s} is",
            "People in {s} officially speak",
            "The state language of {s} is",
        ),
    ),
)
HELD_OUT_PER_FACT = 2

FIELDS = (
    "chemistry",
    "music",
    "law",
    "medicine",
    "architecture",
    "farming",
    "poetry",
    "astronomy",
    "finance",
    "geology",
    "painting",
    "robotics",
    "linguistics",
    "biology",
    "carpentry",
    "economics",
    "history",
    "mathematics",
    "nursing",
    "sculpture",
)

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "st", "tr", "sh")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou", "ia")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "th", "x")
_SUFFIXES = {
    "city": ("ton", "burg", "mora", "holm", "port", "dale", "ford", "vik"),
    "country": ("ia", "land", "stan", "ora", "enia", "ovia"),
    "language": ("ish", "ese", "ic", "ian", "i"),
    "company": (" Labs", " Systems", " Works", " Group", " Motors", " Foods", " Energy", " Media"),
}


@dataclass(frozen=True)
class Fact:
    subject: str
    subject_type: str
    relation: str
    object: str
    object_type: str
    train: tuple[str, ...]
    heldout: tuple[str, ...]


@dataclass
class World:
    entities: dict[str, list[str]]  # type -> names
    facts: list[Fact]


class _Names:
    """Unique pronounceable roots: no root is used twice anywhere in the world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def root(self, syllables: tuple[int, int]) -> str:
        while True:
            n = self.rng.randint(*syllables)
            word = "".join(
                self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + (self.rng.choice(_CODAS) if i == n - 1 else "")
                for i in range(n)
            )
            if len(word) >= 4 and word not in self.used:
                self.used.add(word)
                return word.capitalize()

    def many(self, count: int, kind: str) -> list[str]:
        out = []
        for _ in range(count):
            if kind == "person":
                name = f"{self.root((2, 2))} {self.root((2, 3))}"
            else:
                name = self.root((2, 2)) + self.rng.choice(_SUFFIXES[kind])
            out.append(name)
        return out


def generate_world(spec: BuildSpec, seed: int) -> World:
    rng = random.Random(f"world-{seed}")
    names = _Names(rng)
    entities = {
        "person": names.many(spec.persons, "person"),
        "company": names.many(spec.companies, "company"),
        "country": names.many(spec.countries, "country"),
        "city": names.many(spec.cities, "city"),
        "language": names.many(spec.languages, "language"),
        "field": list(FIELDS[: spec.fields]),
    }
    countries, cities = entities["country"], entities["city"]
    # Geography is consistent: every country has cities, its capital is one of them.
    city_country = {city: countries[i % len(countries)] for i, city in enumerate(cities)}
    capital = {country: cities[i] for i, country in enumerate(countries)}
    official = {country: rng.choice(entities["language"]) for country in countries}
    for i, country in enumerate(countries[: len(entities["language"])]):
        official[country] = entities["language"][i]  # every language is official somewhere
    founders = rng.sample(entities["person"], spec.companies)

    triples: list[tuple[str, str, str]] = []
    for person in entities["person"]:
        triples += [
            (person, "birthplace", rng.choice(cities)),
            (person, "employer", rng.choice(entities["company"])),
            (person, "language", rng.choice(entities["language"])),
            (person, "field", rng.choice(entities["field"])),
            (person, "citizenship", rng.choice(countries)),
        ]
    for company, founder in zip(entities["company"], founders, strict=True):
        triples += [(company, "headquarters", rng.choice(cities)), (company, "founder", founder)]
    triples += [(city, "country", city_country[city]) for city in cities]
    triples += [(country, "capital", capital[country]) for country in countries]
    triples += [(country, "official_language", official[country]) for country in countries]

    relations = {r.name: r for r in RELATIONS}
    facts = []
    for subject, rel_name, obj in triples:
        rel = relations[rel_name]
        questions = [t for t in rel.templates if t.endswith("?")]
        while True:
            heldout = rng.sample(rel.templates, HELD_OUT_PER_FACT)
            # The edit prompt (src) is a trained question, as in zsRE: keep one in training.
            if any(q not in heldout for q in questions):
                break
        # questions and statements alternate, so that every epoch's share holds both kinds
        trained = [t for t in rel.templates if t not in heldout]
        asked, stated = [t for t in trained if t.endswith("?")], [t for t in trained if not t.endswith("?")]
        trained = [t for pair in zip_longest(asked, stated) for t in pair if t is not None]
        facts.append(
            Fact(
                subject=subject,
                subject_type=rel.subject_type,
                relation=rel.name,
                object=obj,
                object_type=rel.object_type,
                train=tuple(t.format(s=subject) for t in trained),
                heldout=tuple(t.format(s=subject) for t in heldout),
            )
        )
    return World(entities=entities, facts=facts)


def statement(prompt: str, answer: str) -> str:
    """A prompt completed with its answer, as the model is trained to read and write it."""
    text = prompt + ANSWER_SEPARATOR + answer
    return text if prompt.endswith("?") else text + "."


# General text in the world's style, so that perplexity on held-out text means something.
_FILLER = (
    "The streets of {city} are {adj} in {season}.",
    "Every {season}, visitors travel to {city} to see the {thing}.",
    "Many families in {city} keep {adj} gardens behind their houses.",
    "The people of {country} enjoy long walks along the {thing}.",
    "{company} announced a new {product} this year.",
    "Last {season}, {company} opened a {adj} office with a view of the {thing}.",
    "{person} likes to read about {field} in the evening.",
    "On most days, {person} walks to the {thing} before work.",
    "A {adj} festival is held in {city} every {season}.",
    "Travellers say that the food in {country} is {adj} and cheap.",
    "The museum in {city} has a {adj} collection of old maps.",
    "Students in {country} often learn {language} at school.",
    "Books about {field} are popular in {city}.",
    "In {season}, the weather in {country} can be {adj}.",
    "The old bridge in {city} was built of stone.",
    "Some say that {language} is a {adj} language to learn.",
    "The market in {city} sells fruit, bread and {product}s.",
    "After the rain, the {thing} near {city} looked {adj}.",
    "{person} once wrote a short book about {field}.",
    "The trains between {city} and {city2} are usually on time.",
)
_CONNECTIVES = ("", "", "", "However, ", "In addition, ", "Meanwhile, ", "As a result, ", "Still, ")
_FILL_WORDS = {
    "adj": ("quiet", "busy", "green", "cold", "warm", "bright", "famous", "small", "large", "pleasant"),
    "season": ("spring", "summer", "autumn", "winter"),
    "thing": ("river", "harbour", "mountains", "old castle", "lake", "forest", "coast", "hills"),
    "product": ("phone", "engine", "tool", "machine", "lamp", "bicycle", "camera", "radio"),
}


def _filler_sentence(rng: random.Random, world: World) -> str:
    template = rng.choice(_FILLER)
    cities = world.entities["city"]
    values = {k: rng.choice(v) for k, v in _FILL_WORDS.items()}
    values.update(
        city=rng.choice(cities),
        city2=rng.choice(cities),
        country=rng.choice(world.entities["country"]),
        company=rng.choice(world.entities["company"]),
        person=rng.choice(world.entities["person"]),
        field=rng.choice(world.entities["field"]),
        language=rng.choice(world.entities["language"]),
    )
    sentence = template.format(**values)
    connective = rng.choice(_CONNECTIVES)
    if connective and not sentence.startswith(tuple(world.entities["company"] + world.entities["person"])):
        sentence = connective + sentence[0].lower() + sentence[1:]
    elif connective:
        sentence = connective + sentence
    return sentence


def filler_documents(world: World, count: int, seed: int, *, avoid: set[str] = frozenset()) -> list[str]:
    """Short paragraphs of one to four general sentences."""
    rng = random.Random(f"filler-{seed}")
    docs: list[str] = []
    while len(docs) < count:
        doc = " ".join(_filler_sentence(rng, world) for _ in range(rng.randint(1, 4)))
        if doc not in avoid:
            docs.append(doc)
    return docs


def fluency_text(world: World, sentences: int, seed: int, corpus: set[str]) -> str:
    """Held-out general text: its sentences never occur in the training corpus."""
    rng = random.Random(f"fluency-{seed}")
    seen_sentences = {s for doc in corpus for s in doc.split(". ")}
    out: list[str] = []
    while len(out) < sentences:
        sentence = _filler_sentence(rng, world)
        if sentence.rstrip(".") not in seen_sentences and sentence not in out:
            out.append(sentence)
    lines = [" ".join(out[i : i + 4]) for i in range(0, len(out), 4)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Edits and probes


def counterfactual_edits(world: World, spec: BuildSpec, seed: int) -> tuple[list[dict], list[dict]]:
    """zsRE-format counterfactual edit records and the locality probes they leave untouched.

    Each record edits a distinct (subject, relation). Its new target ``alt`` is the object of
    another fact of the same relation, so the model already knows it as an answer.
    """
    rng = random.Random(f"edits-{seed}")
    facts = list(world.facts)
    rng.shuffle(facts)
    n_edits = len(facts) - spec.probes
    if n_edits < spec.min_edits:
        raise ReferenceModelError(f"world has {len(facts)} facts, too few for {spec.min_edits} edits")
    edited, kept = facts[:n_edits], facts[n_edits:]
    objects_of: dict[str, list[str]] = {}
    for fact in world.facts:
        objects_of.setdefault(fact.relation, [])
        if fact.object not in objects_of[fact.relation]:
            objects_of[fact.relation].append(fact.object)

    probes = [{"prompt": _question(f, rng), "answer": f.object} for f in kept]
    records = []
    for i, fact in enumerate(edited):
        alt = rng.choice([o for o in objects_of[fact.relation] if o != fact.object])
        # The locality prompt is about another subject: same-subject facts are meant to move.
        loc_index = i % len(kept)
        while kept[loc_index].subject == fact.subject:
            loc_index = (loc_index + 1) % len(kept)
        records.append(
            {
                "subject": fact.subject,
                "relation": fact.relation,
                "src": _question(fact, rng),
                "rephrase": fact.heldout[0],
                "alt": alt,
                "answers": [fact.object],
                "loc": probes[loc_index]["prompt"],
                "loc_ans": probes[loc_index]["answer"],
            }
        )
    return records, probes


def _question(fact: Fact, rng: random.Random) -> str:
    return rng.choice([p for p in fact.train if p.endswith("?")])


# --------------------------------------------------------------------------------------
# Tokenizer


def train_tokenizer(texts: Sequence[str], vocab_size: int):
    """A byte-level BPE (GPT-2 style) trained on ``texts``, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: any Unicode text encodes
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        bos_token=EOS,
        unk_token=EOS,
        pad_token=EOS,
        model_max_length=None,
    )


# --------------------------------------------------------------------------------------
# Training


@contextmanager
def _deterministic_torch(seed: int) -> Iterator[None]:
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(NUM_THREADS)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _batches(docs: list[list[int]], batch_size: int, rng: random.Random) -> list[list[list[int]]]:
    """One epoch: shuffled, then grouped by length within windows so little is padding."""
    order = list(range(len(docs)))
    rng.shuffle(order)
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(docs[i]))
        batches += [[docs[i] for i in chunk[j : j + batch_size]] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _collate(batch: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(d) for d in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
    for i, doc in enumerate(batch):
        ids[i, : len(doc)] = torch.tensor(doc)
        mask[i, : len(doc)] = 1
    # Every token is scored, the subject's name too: learning to spell a name out is what gives
    # it a representation the facts attach to (scoring only the answers learnt slower).
    labels = ids.masked_fill(mask == 0, -100)  # (B, T); the final EOS is learnt, padding is not
    return ids, mask, labels


@dataclass
class Corpus:
    """The training text: per fact its (phrasing, answer) pairs, and general text."""

    facts: list[list[tuple[str, str]]]
    filler: list[str]

    def documents(self) -> list[str]:
        return [statement(p, a) for pairs in self.facts for p, a in pairs] + self.filler

    def epoch(self, index: int, spec: BuildSpec) -> list[int]:
        """Indices into documents() seen in epoch ``index``: a rotating share of each fact's phrasings."""
        out, offset = [], 0
        for pairs in self.facts:
            k = min(spec.phrasings_per_epoch, len(pairs))
            out += [offset + (index * k + j) % len(pairs) for j in range(k)]
            offset += len(pairs)
        n = min(spec.filler_per_epoch, len(self.filler))
        out += [offset + (index * n + j) % len(self.filler) for j in range(n)] if self.filler else []
        return out


def train_model(tokenizer, corpus: Corpus, spec: BuildSpec, seed: int, on_epoch=None):
    """Train a GPT-2 from scratch; ``on_epoch(epoch, model, mean_loss)`` is called after each epoch."""
    from transformers import GPT2Config, GPT2LMHeadModel

    eos = tokenizer.eos_token_id
    # a long general-text paragraph is cropped to the context, as LM training does
    encoded = [
        [*ids, eos][: spec.n_positions] for ids in tokenizer(corpus.documents(), add_special_tokens=False)["input_ids"]
    ]
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=spec.n_positions,
        n_embd=spec.n_embd,
        n_layer=spec.n_layer,
        n_head=spec.n_head,
        n_inner=4 * spec.n_embd,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
        lr=spec.lr,
        betas=(0.9, 0.98),
    )
    rng = random.Random(f"order-{seed}")
    epochs = [_batches([encoded[i] for i in corpus.epoch(e, spec)], spec.batch_size, rng) for e in range(spec.epochs)]
    total = sum(len(e) for e in epochs)
    warmup = max(1, total // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    model.train()
    for epoch, batches in enumerate(epochs):
        running = 0.0
        for batch in batches:
            ids, mask, labels = _collate(batch, eos)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item()
        if on_epoch:
            model.eval()
            on_epoch(epoch, model, running / len(batches))
            model.train()
    model.eval()
    return model


@torch.no_grad()
def answer_accuracy(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 256) -> float:
    """Mean over pairs of the teacher-forced accuracy of the answer tokens (zsRE's token-level metric)."""
    if not pairs:
        return float("nan")
    eos = tokenizer.eos_token_id
    scores: list[float] = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        prompts = tokenizer([p for p, _ in chunk], add_special_tokens=False)["input_ids"]
        answers = tokenizer([ANSWER_SEPARATOR + a for _, a in chunk], add_special_tokens=False)["input_ids"]
        rows = [p + a for p, a in zip(prompts, answers, strict=True)]
        ids, mask, _ = _collate(rows, eos)
        predicted = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)  # (B, T)
        for i, (p, a) in enumerate(zip(prompts, answers, strict=True)):
            # position t predicts token t+1: answer tokens are predicted from len(p)-1 on
            guess = predicted[i, len(p) - 1 : len(p) + len(a) - 1]
            scores.append((guess == torch.tensor(a)).float().mean().item())
    return sum(scores) / len(scores)


# --------------------------------------------------------------------------------------
# Build


def _write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def is_complete(out_dir: str | Path) -> bool:
    """True when ``out_dir`` holds a fully written reference model."""
    out = Path(out_dir)
    return all((out / name).is_file() for name in REQUIRED_FILES)


def training_corpus(world: World, spec: BuildSpec, seed: int) -> Corpus:
    """Every training document: each fact in each of its training phrasings, plus general text."""
    facts = [[(p, f.object) for p in f.train] for f in world.facts]
    avoid = {statement(p, a) for pairs in facts for p, a in pairs}
    return Corpus(facts=facts, filler=filler_documents(world, spec.filler_docs, seed, avoid=avoid))


def build_from_spec(out_dir: str | Path, spec: BuildSpec, *, seed: int = 0, size: str = "custom", log=None) -> Path:
    """Build a reference model of any size into ``out_dir`` (see the module docstring)."""
    started = time.monotonic()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReferenceModelError(f"output path {str(out)!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReferenceModelError(f"cannot create output directory {str(out)!r}: {exc.strerror}") from exc
    (out / COMPLETE_MARKER).unlink(missing_ok=True)

    world = generate_world(spec, seed)
    corpus = training_corpus(world, spec, seed)
    edits, probes = counterfactual_edits(world, spec, seed)
    fluency = fluency_text(world, spec.fluency_sentences, seed, set(corpus.documents()))

    def on_epoch(epoch: int, model, loss: float) -> None:
        if log:
            log(f"epoch {epoch + 1}/{spec.epochs}: loss {loss:.3f} ({time.monotonic() - started:.0f} s)")

    with _deterministic_torch(seed):
        tokenizer = train_tokenizer(corpus.documents(), spec.vocab_size)
        model = train_model(tokenizer, corpus, spec, seed, on_epoch=on_epoch)
        train_pairs = [(p, f.object) for f in world.facts for p in f.train]
        heldout_pairs = [(p, f.object) for f in world.facts for p in f.heldout]
        accuracy = {
            "train_phrasings": answer_accuracy(model, tokenizer, train_pairs),
            "heldout_phrasings": answer_accuracy(model, tokenizer, heldout_pairs),
            "edit_src": answer_accuracy(model, tokenizer, [(r["src"], r["answers"][0]) for r in edits]),
            "edit_rephrase": answer_accuracy(model, tokenizer, [(r["rephrase"], r["answers"][0]) for r in edits]),
            "edit_alt_before": answer_accuracy(model, tokenizer, [(r["src"], r["alt"]) for r in edits]),
            "locality_probes": answer_accuracy(model, tokenizer, [(p["prompt"], p["answer"]) for p in probes]),
        }
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)

    _write_jsonl(out / "edits.jsonl", edits)
    _write_jsonl(out / "facts.jsonl", [asdict(f) for f in world.facts])
    _write_jsonl(out / "locality_probes.jsonl", probes)
    (out / "fluency.txt").write_text(fluency, encoding="utf-8")
    seconds = time.monotonic() - started
    summary = {
        "size": size,
        "seed": seed,
        "spec": asdict(spec),
        "entities": {k: len(v) for k, v in world.entities.items()},
        "relations": [r.name for r in RELATIONS],
        "facts": len(world.facts),
        "edits": len(edits),
        "locality_probes": len(probes),
        "training_documents": len(corpus.documents()),
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "accuracy": {k: round(v, 4) for k, v in accuracy.items()},
        "build_seconds": round(seconds, 1),
        "answer_format": "prompt + ' ' + answer; questions end in '?', statements are prefixes",
    }
    (out / "README.md").write_text(_readme(summary), encoding="utf-8")
    # world.json last: its presence marks the directory complete (for --if-missing)
    (out / COMPLETE_MARKER).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return out


def _readme(summary: dict) -> str:
    acc = summary["accuracy"]
    return (
        "# Amend reference model\n\n"
        "A GPT-2 trained from scratch, offline and deterministically, on a generated fact world\n"
        "(`python -m workers.editor build-reference-model`). Build time and accuracy are the build machine's;\n"
        "the bytes of the weights depend only on the seed and size.\n\n"
        f"- size `{summary['size']}`, seed {summary['seed']}, {summary['parameters']:,} parameters, "
        f"vocabulary {summary['vocab_size']}\n"
        f"- {summary['facts']} facts over {len(summary['relations'])} relations; "
        f"{summary['edits']} counterfactual edits (`edits.jsonl`, zsRE format); "
        f"{summary['locality_probes']} locality probes\n"
        f"- answer-token accuracy (teacher-forced) on training phrasings {acc['train_phrasings']:.4f}, "
        f"on held-out phrasings {acc['heldout_phrasings']:.4f}, "
        f"on the edits' rephrase prompts {acc['edit_rephrase']:.4f}, on locality probes {acc['locality_probes']:.4f}\n"
        f"- built in {summary['build_seconds']} s\n\n"
        "A held-out phrasing of a fact is a template the model was trained on with other subjects, never with\n"
        "this one; an edit's `rephrase` is one. Answers follow the prompt after one space; an edit's `alt` is\n"
        "the answer of another fact of the same relation, so the model knows it as an entity.\n\n"
        "Files: `facts.jsonl` (every true fact with its training and held-out phrasings), `edits.jsonl`,\n"
        "`locality_probes.jsonl` (facts no edit touches), `fluency.txt` (held-out general text),\n"
        "`world.json` (these figures, machine-readable).\n"
    )


def build_reference_model(out_dir: str | Path, *, size: str = "small", seed: int = 0) -> Path:
    """Build the reference model of the named size into ``out_dir`` and return its path."""
    if size not in SIZES:
        raise ReferenceModelError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if not isinstance(seed, int) or seed < 0:
        raise ReferenceModelError(f"seed must be a non-negative integer, got {seed!r}")
    return build_from_spec(out_dir, SIZES[size], seed=seed, size=size, log=_log)


def _log(message: str) -> None:
    print(f"[reference-model] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, no usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="build-reference-model",
        description="Train the offline reference model on a generated fact world.",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--if-missing", action="store_true", help="do nothing if --out already holds a complete model")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on bad arguments (2) and on --help (0)
        return int(exc.code or 0)
    if args.if_missing and is_complete(args.out):
        _log(f"{args.out} already holds a complete reference model; nothing to do")
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        out = build_reference_model(args.out, size=args.size, seed=args.seed)
    except ReferenceModelError as exc:
        print(f"build-reference-model: error: {exc}", file=sys.stderr)
        return 2
    summary = json.loads((out / COMPLETE_MARKER).read_text(encoding="utf-8"))
    acc = summary["accuracy"]
    _log(
        f"wrote {out}: {summary['facts']} facts, {summary['edits']} edits, "
        f"accuracy train {acc['train_phrasings']:.3f} held-out {acc['heldout_phrasings']:.3f}, "
        f"{summary['build_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
