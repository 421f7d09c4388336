"""Enhancement rules: parsed and validated from a JSON file into typed objects.

The file has a `default` rule and optional per-client rules under `clients`. A
client rule sets only the fields it changes: every other field comes from the
default rule, and its `options` are merged key by key into the default's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import RulesError
from .model_names import normalize_model_name

# Assumed context window of a model whose rule gives no `num_ctx`. This is
# Ollama's long-standing default; newer Ollama versions may use a larger one.
DEFAULT_NUM_CTX = 2048
# Tokens kept free for the rewrite when the rule sets no `num_predict`.
DEFAULT_OUTPUT_RESERVE = 512
PROMPT_PLACEHOLDER = "{prompt}"
DEFAULT_SYSTEM_PROMPT = (
    "You rewrite prompts for an AI assistant so they are clear, specific and complete. "
    "Keep the author's intent, language and every fact. Return only the rewritten prompt."
)
DEFAULT_PROMPT_TEMPLATE = "Rewrite this prompt:\n\n{prompt}"

RULE_FIELDS = {
    "description",
    "enabled",
    "model",
    "fallback_models",
    "system_prompt",
    "prompt_template",
    "options",
}
TOP_LEVEL_FIELDS = {"description", "default", "clients"}


@dataclass(frozen=True)
class ModelChoice:
    """One model of a rule's chain with the context window assumed for it."""

    name: str
    num_ctx: int


@dataclass(frozen=True)
class Rule:
    """How to enhance prompts for one client (or for every other client: `client == ""`)."""

    client: str
    enabled: bool
    models: tuple[ModelChoice, ...]
    system_prompt: str
    prompt_template: str
    options: dict[str, Any] = field(hash=False)
    # SHA-256 of the resolved rule, so cache entries of an edited rule miss.
    sha256: str = ""

    @property
    def label(self) -> str:
        return self.client or "default"

    def render(self, prompt: str) -> str:
        """Put `prompt` into the template; str.replace leaves other braces alone."""
        return self.prompt_template.replace(PROMPT_PLACEHOLDER, prompt)

    def output_reserve(self) -> int:
        """Return the tokens kept free in the context window for the model's output."""
        num_predict = self.options.get("num_predict")
        if isinstance(num_predict, int) and num_predict > 0:
            return num_predict
        return DEFAULT_OUTPUT_RESERVE


@dataclass(frozen=True)
class RuleSet:
    """All rules of one rules file, as loaded at one moment."""

    path: Path
    sha256: str
    loaded_at: datetime
    default: Rule
    clients: dict[str, Rule] = field(hash=False)

    def rule_for(self, client: str) -> Rule:
        return self.clients.get(client, self.default)

    def all_rules(self) -> list[Rule]:
        return [self.default, *self.clients.values()]

    def model_names(self) -> list[str]:
        """Return every model the enabled rules name, without duplicates, in file order."""
        names: dict[str, None] = {}
        for rule in self.all_rules():
            if rule.enabled:
                for choice in rule.models:
                    names.setdefault(choice.name)
        return list(names)


def parse_rules(raw: bytes, path: Path) -> RuleSet:
    """Validate a rules file's content; raise RulesError naming the file, client and field."""
    try:
        document = json.loads(raw)
    except UnicodeDecodeError as error:
        raise RulesError(f"rules file {path}: not valid UTF-8: {error}") from None
    except json.JSONDecodeError as error:
        raise RulesError(
            f"rules file {path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise RulesError(f"rules file {path}: JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise RulesError(f"rules file {path}: expected a JSON object with a `default` rule")
    _reject_unknown(document, TOP_LEVEL_FIELDS, path, None, "")

    if "default" not in document:
        raise RulesError(f"rules file {path}: missing field `default` (the rule for clients without their own)")
    default_source = document["default"]
    if not isinstance(default_source, dict):
        raise RulesError(f"rules file {path}: default rule: expected an object")
    base = {
        "enabled": True,
        "model": None,
        "fallback_models": [],
        "system_prompt": DEFAULT_SYSTEM_PROMPT,
        "prompt_template": DEFAULT_PROMPT_TEMPLATE,
        "options": {},
    }
    default_fields = _merge(path, "", base, default_source)
    default = _build_rule(path, "", default_fields)

    clients_source = document.get("clients", {})
    if not isinstance(clients_source, dict):
        raise RulesError(f"rules file {path}: field `clients`: expected an object keyed by client name")
    clients = {}
    for client, source in clients_source.items():
        if not client.strip():
            raise RulesError(f"rules file {path}: field `clients`: a client name is empty")
        if not isinstance(source, dict):
            raise RulesError(f"rules file {path}: client {client!r}: expected an object")
        clients[client] = _build_rule(path, client, _merge(path, client, default_fields, source))

    return RuleSet(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        loaded_at=datetime.now(timezone.utc),
        default=default,
        clients=clients,
    )


def _merge(path: Path, client: str, base: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Return the fields of `source` over those of `base`, with options merged key by key."""
    _reject_unknown(source, RULE_FIELDS, path, client, "")
    merged = {**base, **{key: value for key, value in source.items() if key not in ("options", "description")}}
    options_source = source.get("options", {})
    if not isinstance(options_source, dict):
        raise _field_error(path, client, "options", "expected an object of Ollama options")
    merged["options"] = {**base["options"], **options_source}
    return merged


def _build_rule(path: Path, client: str, merged: dict[str, Any]) -> Rule:
    """Validate the merged fields of one rule and resolve its model chain."""
    enabled = merged["enabled"]
    if not isinstance(enabled, bool):
        raise _field_error(path, client, "enabled", f"expected true or false, got {enabled!r}")
    options = _validate_options(path, client, merged["options"])

    default_ctx = options.get("num_ctx", DEFAULT_NUM_CTX)
    if merged["model"] is None:
        raise _field_error(path, client, "model", "missing: name the Ollama model, for example \"llama3.2:3b\"")
    models = [_model_choice(path, client, "model", merged["model"], default_ctx)]
    fallbacks = merged["fallback_models"]
    if not isinstance(fallbacks, list):
        raise _field_error(path, client, "fallback_models", "expected a list of model names or objects")
    for index, entry in enumerate(fallbacks):
        models.append(_model_choice(path, client, f"fallback_models[{index}]", entry, default_ctx))

    system_prompt = merged["system_prompt"]
    if not isinstance(system_prompt, str):
        raise _field_error(path, client, "system_prompt", "expected a string")
    template = merged["prompt_template"]
    if not isinstance(template, str) or PROMPT_PLACEHOLDER not in template:
        raise _field_error(path, client, "prompt_template", f"expected a string that contains {PROMPT_PLACEHOLDER}")

    resolved = {
        "enabled": enabled,
        "models": [[choice.name, choice.num_ctx] for choice in models],
        "system_prompt": system_prompt,
        "prompt_template": template,
        "options": options,
    }
    return Rule(
        client=client,
        enabled=enabled,
        models=tuple(models),
        system_prompt=system_prompt,
        prompt_template=template,
        options=options,
        sha256=hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest(),
    )


def _model_choice(path: Path, client: str, field_name: str, entry: Any, default_ctx: int) -> ModelChoice:
    """Accept "name" or {"model": "name", "num_ctx": N}."""
    if isinstance(entry, str):
        name, num_ctx = entry, default_ctx
    elif isinstance(entry, dict):
        unknown = set(entry) - {"model", "num_ctx"}
        if unknown:
            raise _field_error(path, client, f"{field_name}.{sorted(unknown)[0]}", "unknown field")
        name = entry.get("model")
        num_ctx = entry.get("num_ctx", default_ctx)
        if not _is_positive_int(num_ctx):
            raise _field_error(path, client, f"{field_name}.num_ctx", f"expected a positive integer, got {num_ctx!r}")
    else:
        raise _field_error(path, client, field_name, f"expected a model name or an object, got {entry!r}")
    if not isinstance(name, str) or not name.strip():
        raise _field_error(path, client, field_name, "expected a non-empty model name")
    return ModelChoice(name=normalize_model_name(name), num_ctx=num_ctx)


def _validate_options(path: Path, client: str, options: dict[str, Any]) -> dict[str, Any]:
    """Check the options whose type Ollama enforces; pass the others through."""
    for key in ("num_ctx", "top_k", "num_keep"):
        if key in options and not _is_positive_int(options[key]):
            raise _field_error(path, client, f"options.{key}", f"expected a positive integer, got {options[key]!r}")
    # -1 generates until the model stops, -2 until the context is full.
    if "num_predict" in options:
        value = options["num_predict"]
        if not (isinstance(value, int) and not isinstance(value, bool) and (value > 0 or value in (-1, -2))):
            raise _field_error(path, client, "options.num_predict", f"expected a positive integer, -1 or -2, got {value!r}")
    if "seed" in options and not (isinstance(options["seed"], int) and not isinstance(options["seed"], bool)):
        raise _field_error(path, client, "options.seed", f"expected an integer, got {options['seed']!r}")
    for key in ("temperature", "top_p", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty"):
        value = options.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _field_error(path, client, f"options.{key}", f"expected a number of 0 or more, got {value!r}")
    if "stop" in options:
        stop = options["stop"]
        if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise _field_error(path, client, "options.stop", "expected a list of strings")
    return dict(options)


def _reject_unknown(source: dict[str, Any], known: set[str], path: Path, client: str | None, prefix: str) -> None:
    unknown = sorted(set(source) - known)
    if not unknown:
        return
    expected = ", ".join(sorted(known))
    if client is None:
        raise RulesError(f"rules file {path}: unknown field `{prefix}{unknown[0]}` (expected one of: {expected})")
    raise _field_error(path, client, f"{prefix}{unknown[0]}", f"unknown field (expected one of: {expected})")


def _field_error(path: Path, client: str, field_name: str, problem: str) -> RulesError:
    where = f"client {client!r}" if client else "default rule"
    return RulesError(f"rules file {path}: {where}: field `{field_name}`: {problem}")


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
