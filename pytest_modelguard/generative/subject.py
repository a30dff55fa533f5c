"""The ``Generator`` subject: a generative model behind one callable, generated once per prompt.

A gate never calls the model directly: it asks the subject, which validates what comes
back (one string per prompt) and caches every (system, prompt, decoding) pair, so each
prompt is generated at most once per session across all gates that share the subject
(the subject is a session fixture). Free of numpy: ``logprob`` returns a plain list.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_modelguard.core.verdict import GateError, require_count

GenerateFn = Callable[..., Sequence[str]]
LogprobFn = Callable[[list[str]], Sequence[float]]

#: what to name when a likelihood gate meets a generator without ``logprob``
LOGPROB_ADAPTERS = (
    "Generator.from_llama(Llama(..., logits_all=True))",
    "Generator.from_pipeline(transformers text-generation pipeline)",
    "Generator(generate, logprob=<callable: list[str] -> sequence log-likelihoods>)",
)


@dataclass
class CacheStats:
    """How often the model was asked, and how often the cache answered instead."""

    generated: int = 0  # prompts the model generated
    cached: int = 0  # prompts answered from the cache
    scored: int = 0  # texts the model scored with logprob
    calls: int = 0  # calls into the model (generate + logprob batches)
    seconds: float = 0.0  # time spent inside the model
    hits: dict[str, int] = field(default_factory=dict)


class Generator:
    """A generative language model under test.

    ``generate(prompts, *, system, max_tokens, temperature, seed) -> list[str]`` answers a
    batch of user prompts (``system`` is the system prompt or None); ``logprob(texts)``,
    optional, gives each text's log-likelihood under the model (natural log, summed over
    its tokens) for the likelihood gates. Decoding is greedy (``temperature=0``) unless
    a temperature is given; sampling without a ``seed`` makes verdicts not reproducible.
    """

    def __init__(
        self,
        generate: GenerateFn,
        *,
        logprob: LogprobFn | None = None,
        name: str | None = None,
        max_tokens: int = 64,
        temperature: float = 0.0,
        seed: int | None = None,
        fingerprint: str | None = None,
        adapter: str = "callable",
    ) -> None:
        if not callable(generate):
            raise GateError(f"Generator needs a callable generate, got {type(generate).__name__}")
        if logprob is not None and not callable(logprob):
            raise GateError(f"logprob= must be callable, got {type(logprob).__name__}")
        require_count("max_tokens", max_tokens)
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not math.isfinite(temperature)
            or temperature < 0
        ):
            raise GateError(f"temperature={temperature!r}: give a number >= 0 (0 is greedy)")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise GateError(f"seed={seed!r}: give an integer or None")
        self._generate = generate
        self._logprob = logprob
        self.name = name or getattr(generate, "__name__", type(generate).__name__)
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.seed = seed
        self.adapter = adapter
        self.fingerprint = fingerprint or _fingerprint(self.name, adapter)
        self.stats = CacheStats()
        self._outputs: dict[tuple[Any, ...], str] = {}
        self._logprobs: dict[str, float] = {}

    # -- what a verdict records ------------------------------------------------------------

    @property
    def reproducible(self) -> bool:
        """Greedy decoding, or sampling with a recorded seed."""
        return self.temperature == 0 or self.seed is not None

    @property
    def has_logprob(self) -> bool:
        return self._logprob is not None

    def decoding(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "greedy": self.temperature == 0,
            "reproducible": self.reproducible,
        }

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "adapter": self.adapter, "fingerprint": self.fingerprint}

    # -- the model, through the cache ------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, system: str | None = None) -> list[str]:
        """One answer per prompt; each (system, prompt, decoding) is generated once."""
        prompts = _texts(prompts, "prompts")
        if system is not None and not isinstance(system, str):
            raise GateError(f"the system prompt must be a string, got {type(system).__name__}")
        keys = [self._key(system, p) for p in prompts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._outputs))
        self.stats.cached += len(keys) - len(missing)
        if missing:
            todo = [k[1] for k in missing]
            started = time.perf_counter()
            try:
                answers = self._generate(
                    todo,
                    system=system,
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                    seed=self.seed,
                )
            except GateError:
                raise
            except Exception as exc:  # the model's own failure: the gate cannot be evaluated
                raise GateError(
                    f"generator {self.name!r} raised {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                self.stats.seconds += time.perf_counter() - started
                self.stats.calls += 1
            answers = _answers(answers, len(todo), self.name)
            self.stats.generated += len(todo)
            for key, answer in zip(missing, answers, strict=True):
                self._outputs[key] = answer
        return [self._outputs[k] for k in keys]

    def logprob(self, texts: Sequence[str]) -> list[float]:
        """Each text's log-likelihood, in one batched call for the texts not yet scored."""
        if self._logprob is None:
            raise GateError(
                f"generator {self.name!r} ({self.adapter}) has no logprob, which this "
                "likelihood gate needs; use an adapter that has it: " + "; ".join(LOGPROB_ADAPTERS)
            )
        texts = _texts(texts, "texts")
        missing = list(dict.fromkeys(t for t in texts if t not in self._logprobs))
        if missing:
            started = time.perf_counter()
            try:
                values = list(self._logprob(missing))
            except GateError:
                raise
            except Exception as exc:
                raise GateError(
                    f"logprob of {self.name!r} raised {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                self.stats.seconds += time.perf_counter() - started
                self.stats.calls += 1
            if len(values) != len(missing):
                raise GateError(
                    f"logprob of {self.name!r} returned {len(values)} values for "
                    f"{len(missing)} texts: return one log-likelihood per text"
                )
            for text, value in zip(missing, values, strict=True):
                number = _number(value)
                if number is None or number > 1e-6:
                    raise GateError(
                        f"logprob of {self.name!r} returned {value!r} for {text[:40]!r}: a "
                        "log-likelihood is a finite number <= 0"
                    )
                self._logprobs[text] = number
            self.stats.scored += len(missing)
        return [self._logprobs[t] for t in texts]

    def is_cached(self, prompt: str, *, system: str | None = None) -> bool:
        return self._key(system, prompt) in self._outputs

    def _key(self, system: str | None, prompt: str) -> tuple[Any, ...]:
        return (system, prompt, self.max_tokens, self.temperature, self.seed)

    # -- adapters --------------------------------------------------------------------------

    @classmethod
    def from_llama(cls, llama: Any, **decoding: Any) -> Generator:
        """llama-cpp-python's ``Llama`` (chat template of the GGUF); logprob when it was
        created with ``logits_all=True``."""
        from pytest_modelguard.generative.runtimes import llama_generator

        return llama_generator(cls, llama, **decoding)

    @classmethod
    def from_pipeline(cls, pipeline: Any, **decoding: Any) -> Generator:
        """A Hugging Face ``transformers`` text-generation pipeline (needs transformers)."""
        from pytest_modelguard.generative.runtimes import pipeline_generator

        return pipeline_generator(cls, pipeline, **decoding)

    @classmethod
    def from_endpoint(
        cls,
        url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        **decoding: Any,
    ) -> Generator:
        """An OpenAI-compatible chat endpoint (``{url}/chat/completions``); no logprob."""
        from pytest_modelguard.generative.runtimes import endpoint_generator

        return endpoint_generator(
            cls, url, model=model, api_key=api_key, timeout=timeout, **decoding
        )


def is_generator(value: Any) -> bool:
    return isinstance(value, Generator)


def require_generator(model: Any, gate: str) -> Generator:
    if not isinstance(model, Generator):
        raise GateError(
            f"the {gate} gate needs a pytest_modelguard.Generator as its model, got "
            f"{type(model).__name__}; wrap it: Generator(generate_fn), Generator.from_llama("
            "llama), Generator.from_pipeline(pipe) or Generator.from_endpoint(url, model=...)"
        )
    return model


def _texts(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise GateError(f"{what} must be a list of strings, got {type(values).__name__}")
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise GateError(f"{what} must be strings; got a {type(bad[0]).__name__}")
    return list(values)


def _answers(answers: Any, expected: int, name: str) -> list[str]:
    """The generator's reply, checked: exactly one string per prompt."""
    if isinstance(answers, str) or not isinstance(answers, Sequence):
        raise GateError(
            f"generator {name!r} returned a {type(answers).__name__}; return a list with one "
            "string per prompt"
        )
    if len(answers) != expected:
        raise GateError(
            f"generator {name!r} returned {len(answers)} outputs for {expected} prompts: "
            "return exactly one string per prompt, in order"
        )
    for index, answer in enumerate(answers):
        if not isinstance(answer, str):
            raise GateError(
                f"generator {name!r} returned a {type(answer).__name__} for prompt {index}: "
                "every output must be a string (the generated text)"
            )
    return list(answers)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
