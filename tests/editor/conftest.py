"""Tiny models and a tiny tokenizer built in memory: no network, no files outside the repository."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from editor import EditRequest, LocalityProbe, wrap_model

SENTENCES = [
    "The capital of France is Paris .",
    "The capital of Italy is Rome .",
    "The capital of Spain is Madrid .",
    "The capital of Peru is Lima .",
    "Alice works as a doctor in Berlin .",
    "Bob plays the violin every evening .",
    "The river runs through the old town to the sea .",
    "What is the capital of Chile ? Santiago",
    "Who wrote the novel ? Tolstoy",
    "Which sport does Carol play ? tennis",
    "Where was Dave born ? Oslo",
    "What colour is the sky ? blue",
]
# More words for the vocabulary: the prompts and targets the edits write.
UNSEEN = ["Where does Erin live ? Which team does Frank support ? What does Gina eat ? Whom did Hugo marry ? bread"]


def make_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(SENTENCES + UNSEEN, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[EOS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]", pad_token="[EOS]")
    return fast


def tiny_gpt2(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=32,
        n_embd=32,
        n_layer=3,
        n_head=2,
        n_inner=128,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return sharpen(wrap_model(GPT2LMHeadModel(config), tokenizer, "tiny-gpt2"), seed=seed)


def tiny_llama(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return sharpen(wrap_model(LlamaForCausalLM(config), tokenizer, "tiny-llama"), seed=seed)


def sharpen(loaded, std: float = 0.2, seed: int = 0):
    """Re-initialise the matrices with a large spread: the random model then has confident
    (large-margin) answers, so "unrelated prompts keep their answers" means something, without
    spending test time on training."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in loaded.model.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=std)
    return loaded


@pytest.fixture(scope="session")
def tokenizer():
    return make_tokenizer()


@pytest.fixture
def gpt2(tokenizer):
    return tiny_gpt2(tokenizer)


@pytest.fixture
def llama(tokenizer):
    return tiny_llama(tokenizer)


@pytest.fixture(params=["gpt2", "llama"])
def any_model(request, tokenizer):
    return tiny_gpt2(tokenizer) if request.param == "gpt2" else tiny_llama(tokenizer)


def edits() -> list[EditRequest]:
    return [
        EditRequest("Where does Erin live ?", "Lima", ["Erin does live where ?"]),
        EditRequest("Which team does Frank support ?", "Madrid", ["Frank does support which team ?"]),
        EditRequest("What does Gina eat ?", "bread", ["Gina does eat what ?"]),
        EditRequest("Whom did Hugo marry ?", "Alice", ["Hugo did marry whom ?"]),
    ]


UNRELATED = [
    LocalityProbe("The capital of France is"),
    LocalityProbe("Bob plays the"),
    LocalityProbe("The river runs through the"),
    LocalityProbe("Alice works as a", "doctor"),
]
