"""The enhancer's domain logic: rule lookup, cache, context check, model chain and reasons.

Nothing here imports gRPC. Enhance never fails unless the caller sets `require`:
every EnhancerError becomes the original prompt with the error's reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mcp_router.deadlines import call_budget

from .cache import EnhanceCache, make_cache_key
from .errors import EnhancementDisabledError, EnhancerError, InvalidRequestError, ModelMissingError, PromptTooLongError, Reason
from .model_names import normalize_model_name, same_model
from .ollama_client import ChatResult, ModelInfo, OllamaClient
from .rules import DEFAULT_NUM_CTX, ModelChoice, Rule
from .rules_store import RulesStore
from .settings import BudgetSettings
from .tokens import estimate_chat_tokens, fits_context, looks_truncated

log = logging.getLogger(__name__)

CHAT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class EnhanceResult:
    original: str
    enhanced: str
    model: str
    cached: bool
    applied: bool
    reason: Reason
    elapsed_ms: float
    detail: str
    rule: str
    truncated: bool
    prompt_tokens_estimate: int
    prompt_eval_count: int
    budget_ms: int


@dataclass(frozen=True)
class CompleteResult:
    content: str
    model: str
    done_reason: str
    prompt_eval_count: int
    eval_count: int
    truncated: bool
    elapsed_ms: float
    rule: str


@dataclass(frozen=True)
class ModelList:
    models: list[ModelInfo]
    # Models the rules name that Ollama does not have.
    missing: list[str]


class Enhancer:
    """Rewrites prompts and answers completions with the rules, the cache and the Ollama client."""

    def __init__(self, rules: RulesStore, cache: EnhanceCache, ollama: OllamaClient, budgets: BudgetSettings) -> None:
        self.rules = rules
        self.cache = cache
        self.ollama = ollama
        self.budgets = budgets
        self.reason_counts: Counter[Reason] = Counter()
        self.enhance_calls = 0
        self.complete_calls = 0

    # --- Enhance ---------------------------------------------------------------

    async def enhance(
        self,
        prompt: str,
        client: str,
        model: str = "",
        require: bool = False,
        time_remaining: float | None = None,
    ) -> EnhanceResult:
        """Rewrite `prompt` with the client's rule.

        Return the original prompt with the reason on any failure, or raise the
        EnhancerError instead when `require` is set.
        """
        if not prompt.strip():
            raise InvalidRequestError("prompt is empty: send the text to rewrite")
        started = time.monotonic()
        self.enhance_calls += 1
        budget = self._budget(time_remaining)
        rule = self.rules.rules.rule_for(client)
        messages = _messages(rule.system_prompt, [{"role": "user", "content": rule.render(prompt)}])
        estimate = estimate_chat_tokens(message["content"] for message in messages)
        try:
            result = await self._enhance(prompt, rule, model, messages, estimate, budget)
        except EnhancerError as error:
            model_name = normalize_model_name(model) if model else rule.models[0].name
            result = EnhanceResult(
                original=prompt,
                enhanced=prompt,
                model=model_name,
                cached=False,
                applied=False,
                reason=error.reason,
                elapsed_ms=0.0,
                detail=str(error),
                rule=rule.client,
                truncated=False,
                prompt_tokens_estimate=estimate,
                prompt_eval_count=0,
                budget_ms=int(budget * 1000),
            )
            self._record(client, result, started)
            if require:
                raise
            return _with_elapsed(result, started)

        self._record(client, result, started)
        return _with_elapsed(result, started)

    async def _enhance(
        self,
        prompt: str,
        rule: Rule,
        model: str,
        messages: list[dict[str, str]],
        estimate: int,
        budget: float,
    ) -> EnhanceResult:
        if not rule.enabled:
            raise EnhancementDisabledError(f"enhancement is disabled by the rule for {rule.label}")

        candidates = _fitting_models(_model_chain(rule, model), estimate, rule.output_reserve())

        keys = [make_cache_key(rule.client, rule.sha256, choice.name, prompt) for choice in candidates]
        entry = self.cache.lookup(keys)
        if entry is not None:
            return EnhanceResult(
                original=prompt,
                enhanced=entry.enhanced,
                model=entry.model,
                cached=True,
                applied=entry.enhanced != prompt,
                reason=Reason.APPLIED,
                elapsed_ms=0.0,
                detail="",
                rule=rule.client,
                truncated=entry.truncated,
                prompt_tokens_estimate=entry.prompt_tokens_estimate,
                prompt_eval_count=0,
                budget_ms=int(budget * 1000),
            )

        choice, answer = await self._chat_with_fallback(candidates, messages, rule.options, budget)
        enhanced = answer.content.strip()
        truncated = looks_truncated(estimate, answer.prompt_eval_count)
        if truncated:
            log.warning(
                "rule=%s model=%s prompt probably truncated by Ollama: estimated_tokens=%s prompt_eval_count=%s num_ctx=%s",
                rule.label,
                choice.name,
                estimate,
                answer.prompt_eval_count,
                choice.num_ctx,
            )
        else:
            # A rewrite of a cut-off prompt is not worth serving again.
            key = make_cache_key(rule.client, rule.sha256, choice.name, prompt)
            self.cache.put(key, enhanced, choice.name, estimate, truncated)
        return EnhanceResult(
            original=prompt,
            enhanced=enhanced,
            model=choice.name,
            cached=False,
            applied=enhanced != prompt,
            reason=Reason.APPLIED,
            elapsed_ms=0.0,
            detail="",
            rule=rule.client,
            truncated=truncated,
            prompt_tokens_estimate=estimate,
            prompt_eval_count=answer.prompt_eval_count or 0,
            budget_ms=int(budget * 1000),
        )

    # --- Complete --------------------------------------------------------------

    async def complete(
        self,
        messages: list[dict[str, str]],
        client: str,
        *,
        system_prompt: str = "",
        max_tokens: int = 0,
        model: str = "",
        temperature: float | None = None,
        stop_sequences: list[str] | None = None,
        time_remaining: float | None = None,
    ) -> CompleteResult:
        """Return the model's reply to a chat; raise an EnhancerError on any failure."""
        started = time.monotonic()
        self.complete_calls += 1
        budget = self._budget(time_remaining)
        rule = self.rules.rules.rule_for(client)

        if not messages:
            raise InvalidRequestError("messages is empty: send at least one message")
        for index, message in enumerate(messages):
            if message["role"] not in CHAT_ROLES:
                raise InvalidRequestError(
                    f"messages[{index}].role is {message['role']!r}: expected one of {', '.join(CHAT_ROLES)}"
                )
        if max_tokens < 0:
            raise InvalidRequestError(f"max_tokens is {max_tokens}: expected 0 (the rule's value) or more")

        chat = _messages(system_prompt, messages)
        options: dict[str, Any] = dict(rule.options)
        if max_tokens:
            options["num_predict"] = max_tokens
        if temperature is not None:
            options["temperature"] = temperature
        if stop_sequences:
            options["stop"] = list(stop_sequences)

        estimate = estimate_chat_tokens(message["content"] for message in chat)
        reserve = max_tokens or rule.output_reserve()
        candidates = _fitting_models(_model_chain(rule, model), estimate, reserve)
        try:
            choice, answer = await self._chat_with_fallback(candidates, chat, options, budget)
        except EnhancerError as error:
            log.info(
                "complete client=%s model=%s error=%s ms=%.1f",
                client or "-",
                candidates[0].name,
                error.reason.value,
                (time.monotonic() - started) * 1000,
            )
            raise

        truncated = looks_truncated(estimate, answer.prompt_eval_count)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info(
            "complete client=%s model=%s done_reason=%s truncated=%s ms=%.1f",
            client or "-",
            choice.name,
            answer.done_reason or "-",
            truncated,
            elapsed_ms,
        )
        return CompleteResult(
            content=answer.content,
            model=choice.name,
            done_reason=answer.done_reason,
            prompt_eval_count=answer.prompt_eval_count or 0,
            eval_count=answer.eval_count or 0,
            truncated=truncated,
            elapsed_ms=elapsed_ms,
            rule=rule.client,
        )

    # --- Models ----------------------------------------------------------------

    async def list_models(self, time_remaining: float | None = None) -> ModelList:
        models = await self.ollama.list_models(self._budget(time_remaining))
        installed = {normalize_model_name(model.name) for model in models}
        missing = [name for name in self.rules.rules.model_names() if normalize_model_name(name) not in installed]
        return ModelList(models=models, missing=missing)

    # --- Shared steps ----------------------------------------------------------

    def _budget(self, time_remaining: float | None) -> float:
        return call_budget(time_remaining, self.budgets.budget, self.budgets.deadline_margin)

    async def _chat_with_fallback(
        self,
        candidates: list[ModelChoice],
        messages: list[dict[str, str]],
        options: dict[str, Any],
        budget: float,
    ) -> tuple[ModelChoice, ChatResult]:
        """Call the first installed model of the chain; a missing model moves on to the next one."""
        loop = asyncio.get_running_loop()
        end = loop.time() + budget
        missing: list[str] = []
        for choice in candidates:
            model_options = {**options, "num_ctx": choice.num_ctx}
            try:
                answer = await self.ollama.chat(choice.name, messages, model_options, end - loop.time())
            except ModelMissingError as error:
                log.warning("model missing model=%s, trying the next model of the chain: %s", choice.name, error)
                missing.append(choice.name)
                continue
            return choice, answer

        if len(missing) == 1:
            raise ModelMissingError(
                f"model {missing[0]!r} not found in Ollama at {self.ollama.url}; pull it with `ollama pull {missing[0]}`",
                model=missing[0],
            )
        raise ModelMissingError(
            f"none of the models {', '.join(missing)} is installed in Ollama at {self.ollama.url}; "
            f"pull one with `ollama pull {missing[0]}`",
            model=missing[0],
        )

    def _record(self, client: str, result: EnhanceResult, started: float) -> None:
        """Count the reason and write the one log line of this enhancement."""
        self.reason_counts[result.reason] += 1
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info(
            "enhance client=%s rule=%s model=%s cached=%s reason=%s applied=%s truncated=%s ms=%.1f detail=%s",
            client or "-",
            result.rule or "default",
            result.model,
            result.cached,
            result.reason.value,
            result.applied,
            result.truncated,
            elapsed_ms,
            result.detail or "-",
        )
        log.debug("enhance client=%s prompt=%r enhanced=%r", client or "-", result.original, result.enhanced)


def _messages(system_prompt: str, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    if not system_prompt:
        return list(messages)
    return [{"role": "system", "content": system_prompt}, *messages]


def _model_chain(rule: Rule, override: str) -> list[ModelChoice]:
    """Return the rule's chain, or only `override` with the context window the rule gives it."""
    if not override:
        return list(rule.models)
    for choice in rule.models:
        if same_model(choice.name, override):
            return [choice]
    num_ctx = rule.options.get("num_ctx", DEFAULT_NUM_CTX)
    return [ModelChoice(name=normalize_model_name(override), num_ctx=num_ctx)]


def _fitting_models(chain: list[ModelChoice], estimate: int, reserve: int) -> list[ModelChoice]:
    """Return the models whose context window fits the prompt and the answer; raise if none does."""
    fitting = [choice for choice in chain if fits_context(estimate, reserve, choice.num_ctx)]
    if fitting:
        return fitting
    windows = ", ".join(f"{choice.name} ({choice.num_ctx})" for choice in chain)
    raise PromptTooLongError(
        f"the prompt needs about {estimate} tokens plus {reserve} for the answer, "
        f"more than the context window of every model: {windows}"
    )


def _with_elapsed(result: EnhanceResult, started: float) -> EnhanceResult:
    return dataclasses.replace(result, elapsed_ms=(time.monotonic() - started) * 1000)
