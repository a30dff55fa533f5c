"""Adapters from real runtimes to the ``Generator`` protocol.

llama-cpp-python (local GGUF weights), Hugging Face ``transformers`` pipelines, and any
OpenAI-compatible chat endpoint (vLLM, llama.cpp's server, a hosted API). Each turns the
runtime's own failure into a ``GateError`` that says what to fix: an unreachable or slow
endpoint is an ERROR, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import urllib.error
import urllib.request
from typing import Any

from pytest_modelguard.core.verdict import GateError


def _messages(system: str | None, prompt: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system is not None else []
    return [*messages, {"role": "user", "content": prompt}]


# -- llama-cpp-python --------------------------------------------------------------------


def llama_generator(cls: Any, llama: Any, **decoding: Any) -> Any:
    if not hasattr(llama, "create_chat_completion"):
        raise GateError(f"from_llama needs a llama_cpp.Llama, got {type(llama).__name__}")

    def generate(prompts, *, system, max_tokens, temperature, seed):  # type: ignore[no-untyped-def]
        answers = []
        for prompt in prompts:
            extra = {"seed": seed} if seed is not None else {}
            # Forget the previous prompt: llama-cpp-python reuses its evaluated prefix, which
            # makes an answer depend on what was asked before (seeded sampling does not
            # reproduce otherwise, and batch shapes change the floating-point path).
            llama.reset()
            if seed is not None:
                llama.set_seed(seed)
            reply = llama.create_chat_completion(
                messages=_messages(system, prompt),
                max_tokens=max_tokens,
                temperature=temperature,
                **extra,
            )
            answers.append(reply["choices"][0]["message"]["content"] or "")
        return answers

    logprob = None
    if _logits_all(llama):

        def logprob(texts: list[str]) -> list[float]:
            return [_llama_logprob(llama, text) for text in texts]

    path = str(getattr(llama, "model_path", "llama"))
    return cls(
        generate,
        logprob=logprob,
        name=os.path.basename(path),
        fingerprint=_file_fingerprint(path),
        adapter="llama-cpp-python",
        **decoding,
    )


def _logits_all(llama: Any) -> bool:
    params = getattr(llama, "context_params", None)
    return bool(getattr(llama, "_logits_all", False) or getattr(params, "logits_all", False))


def _llama_logprob(llama: Any, text: str) -> float:
    """Sum of log p(token | prefix) over the text's tokens after BOS, from one forward pass."""
    import numpy as np

    tokens = llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    if len(tokens) < 2:
        raise GateError(f"cannot score {text!r}: it has no token after the start token")
    if len(tokens) > llama.n_ctx():
        raise GateError(f"text of {len(tokens)} tokens exceeds the context of {llama.n_ctx()}")
    llama.reset()
    llama.eval(tokens)
    logits = np.asarray(llama.scores[: len(tokens) - 1], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits).sum(axis=1))
    chosen = logits[np.arange(len(tokens) - 1), tokens[1:]]
    return float(np.sum(chosen - log_norm))


def _file_fingerprint(path: str) -> str | None:
    """SHA-256 of the first and last MiB and the size: cheap on a 100 MB GGUF."""
    try:
        size = os.path.getsize(path)
        digest = hashlib.sha256(str(size).encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(0, size - (1 << 20)))
            digest.update(handle.read(1 << 20))
    except OSError:
        return None
    return digest.hexdigest()[:16]


# -- transformers ------------------------------------------------------------------------


def pipeline_generator(cls: Any, pipeline: Any, **decoding: Any) -> Any:
    """A ``text-generation`` pipeline; logprob from its model and tokenizer (PyTorch)."""
    try:
        import transformers
    except ImportError:
        raise GateError(
            "from_pipeline needs the transformers package: pip install transformers torch"
        ) from None
    if getattr(pipeline, "task", None) != "text-generation":
        raise GateError(
            f"from_pipeline needs a 'text-generation' pipeline, got task "
            f"{getattr(pipeline, 'task', None)!r}"
        )

    def generate(prompts, *, system, max_tokens, temperature, seed):  # type: ignore[no-untyped-def]
        if seed is not None:
            transformers.set_seed(seed)
        sampling = (
            {"do_sample": True, "temperature": temperature}
            if temperature > 0
            else {"do_sample": False}
        )
        chats = [_messages(system, p) for p in prompts]
        results = pipeline(chats, max_new_tokens=max_tokens, return_full_text=False, **sampling)
        return [r[0]["generated_text"] for r in results]

    def logprob(texts: list[str]) -> list[float]:
        import torch

        model, tokenizer = pipeline.model, pipeline.tokenizer
        values = []
        with torch.no_grad():
            for text in texts:
                ids = tokenizer(text, return_tensors="pt").input_ids.to(model.device)
                if ids.shape[1] < 2:
                    raise GateError(f"cannot score {text!r}: it has fewer than two tokens")
                loss = model(ids, labels=ids).loss  # mean negative log-likelihood per token
                values.append(-float(loss) * (ids.shape[1] - 1))
        return values

    name = getattr(getattr(pipeline, "model", None), "name_or_path", "pipeline")
    return cls(generate, logprob=logprob, name=str(name), adapter="transformers", **decoding)


# -- OpenAI-compatible endpoints ---------------------------------------------------------


def endpoint_generator(
    cls: Any, url: str, *, model: str, api_key: str | None, timeout: float, **decoding: Any
) -> Any:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise GateError(f"from_endpoint needs an http(s) URL, got {url!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise GateError(f"timeout={timeout!r}: give a positive number of seconds")
    endpoint = url.rstrip("/") + "/chat/completions"

    def generate(prompts, *, system, max_tokens, temperature, seed):  # type: ignore[no-untyped-def]
        answers = []
        for prompt in prompts:
            body: dict[str, Any] = {
                "model": model,
                "messages": _messages(system, prompt),
                "max_tokens": max_tokens,
                "temperature": temperature,
            }
            if seed is not None:
                body["seed"] = seed
            answers.append(_chat(endpoint, body, api_key=api_key, timeout=timeout))
        return answers

    return cls(generate, name=f"{model}@{url}", adapter="openai-compatible endpoint", **decoding)


def _chat(endpoint: str, body: dict[str, Any], *, api_key: str | None, timeout: float) -> str:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        endpoint, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        raise GateError(f"endpoint {endpoint} answered HTTP {exc.code}: {detail}") from None
    except TimeoutError:
        raise GateError(
            f"endpoint {endpoint} did not answer within {timeout:g} s: raise timeout= or "
            "check the server"
        ) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError | socket.timeout):
            raise GateError(
                f"endpoint {endpoint} did not answer within {timeout:g} s: raise timeout= or "
                "check the server"
            ) from None
        raise GateError(
            f"endpoint {endpoint} is unreachable ({exc.reason}): start it or fix the URL"
        ) from None
    except (OSError, ValueError) as exc:
        raise GateError(f"endpoint {endpoint} failed: {type(exc).__name__}: {exc}") from None
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise GateError(
            f"endpoint {endpoint} did not answer in the chat-completions format "
            "(choices[0].message.content)"
        ) from None
    return "" if content is None else content
