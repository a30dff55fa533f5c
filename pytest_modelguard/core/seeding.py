"""One session seed, and a stream of randomness per test derived from it.

Free of numpy: the plugin resolves the seed at load time.
"""

from __future__ import annotations

import hashlib
import random

DEFAULT_SEED = 20240601


def derive_seed(session_seed: int, *parts: object) -> int:
    """A 64-bit seed for ``parts`` (test id, gate index): stable across processes and
    Python's hash randomisation, so xdist workers and reruns draw the same numbers."""
    text = "\x1f".join([str(session_seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def parse_seed(value: str, last: int | None) -> int:
    """``--modelguard-seed`` value: an integer, ``random``, or ``last`` (the previous run's)."""
    if value == "random":
        return random.SystemRandom().randrange(2**32)
    if value == "last":
        if last is None:
            raise ValueError("--modelguard-seed=last: no previous run recorded a seed")
        return last
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"--modelguard-seed={value!r}: expected an integer, 'random' or 'last'"
        ) from None
