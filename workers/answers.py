"""Greedy answers of many prompts at once (a fact's answer before and after its batch).

The same prompt tokens and stopping rule as workers.editor.generate_answer, but batched with
left padding and the model's KV cache: a hundred facts cost a few forward passes, not hundreds.
"""

from typing import Any

ANSWER_BATCH = 32


def greedy_answers(loaded: Any, prompts: list[str], max_new_tokens: int) -> list[str]:
    """The greedy continuation of each prompt, decoded and stripped, stopping at end-of-text."""
    import torch

    from workers.editor.tokens import pad_id, prompt_ids

    tokenizer, model = loaded.tokenizer, loaded.model
    pad = pad_id(tokenizer)
    eos = getattr(tokenizer, "eos_token_id", None)
    answers: list[str] = []
    for start in range(0, len(prompts), ANSWER_BATCH):
        ids = [prompt_ids(tokenizer, prompt) for prompt in prompts[start : start + ANSWER_BATCH]]
        width = max(len(row) for row in ids)
        # Left padding: every prompt ends at the same position, so generation continues all of them.
        input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in ids], device=loaded.device)
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in ids], device=loaded.device)
        with torch.no_grad():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=pad,
                eos_token_id=eos,
            )  # (batch, width + new)
        for row in out[:, width:].tolist():
            if eos is not None and eos in row:
                row = row[: row.index(eos)]
            answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return answers
