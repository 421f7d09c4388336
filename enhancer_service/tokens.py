"""Token estimates: whether a prompt fits a model's context, and whether Ollama cut it.

Ollama has no tokenizer endpoint, so the estimate is a character-count rule of
thumb. Ollama silently drops the front of a prompt longer than `num_ctx`, so
the estimate serves twice: before the call to pick a model whose context window
fits, and after it to compare with the `prompt_eval_count` Ollama reports.
"""

from __future__ import annotations

import math
from typing import Iterable

# About four characters per token for English text with common BPE tokenizers;
# code and non-Latin scripts need more tokens per character.
CHARS_PER_TOKEN = 4.0
# Chat templates add role markers around every message.
TOKENS_PER_MESSAGE = 4
# Ollama's `prompt_eval_count` below this share of the estimate means it
# evaluated far less than it was sent. The chat template only adds tokens, so
# an untruncated prompt stays well above this share even when the estimate runs
# high by a factor of two.
TRUNCATION_RATIO = 0.5


def estimate_tokens(text: str) -> int:
    """Return an estimate of the tokens in `text` (0 for empty text)."""
    if not text:
        return 0
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_chat_tokens(contents: Iterable[str]) -> int:
    """Return an estimate of the prompt tokens of a chat whose messages have `contents`."""
    return sum(estimate_tokens(content) + TOKENS_PER_MESSAGE for content in contents)


def fits_context(prompt_tokens: int, output_tokens: int, num_ctx: int) -> bool:
    """Return whether the prompt and the room kept for the answer fit in `num_ctx` tokens."""
    return prompt_tokens + output_tokens <= num_ctx


def looks_truncated(estimated_prompt_tokens: int, prompt_eval_count: int | None) -> bool:
    """Return whether Ollama evaluated far fewer prompt tokens than estimated.

    An absent or zero count proves nothing, because Ollama may leave it out when it
    reuses an already evaluated prompt.
    """
    if not prompt_eval_count:
        return False
    return prompt_eval_count < estimated_prompt_tokens * TRUNCATION_RATIO
