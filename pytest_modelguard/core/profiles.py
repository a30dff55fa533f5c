"""Profiles: how hard searched properties look, by where the run happens.

``dev`` is quick for a laptop, ``ci`` is derandomized and the default when the ``CI``
environment variable is set (as Hypothesis does), ``release`` searches longest and draws
five times the bootstrap resamples for a sign-off. The profile also scales the effort of
the evidence gates: the adversarial ensemble's restarts and steps, and how many shadow
models membership inference trains. Free of heavy imports: the plugin resolves the profile
at load time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    examples: int  # Hypothesis examples per searched property, unless a gate says examples=
    derandomize: bool  # Hypothesis derives its choices from the property, not the seed
    resamples: int = 1  # bootstrap resamples: this many times a gate's default n_resamples
    attack_restarts: int = 3  # PGD runs of the adversarial ensemble (a step size each)
    attack_steps: int = 40  # steps of each PGD run and of the minimum-norm attacks
    decision_steps: int = 4  # HopSkipJump steps on the rows every gradient attack left
    shadow_models: int = 8  # shadow models LiRA trains (half with each row, half without)

    def hypothesis_settings(self, *, max_examples: int | None = None, **overrides: Any) -> Any:
        """The plugin's own ``hypothesis.settings``: never the user's profile, no example
        database, no deadline (a model call's duration is not a bug).

        Every setting that changes what is found is given explicitly: one left out would be
        inherited from the profile the user loaded (no shrinking, two examples, ...).
        """
        from hypothesis import HealthCheck, Phase, Verbosity, settings

        values: dict[str, Any] = {
            "max_examples": max_examples or self.examples,
            "derandomize": self.derandomize,
            "database": None,
            "deadline": None,
            "phases": (Phase.generate, Phase.shrink),
            "verbosity": Verbosity.quiet,
            "report_multiple_bugs": False,
            "print_blob": False,
            "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        }
        values.update(overrides)
        return settings(**values)


PROFILES: dict[str, Profile] = {
    "dev": Profile("dev", examples=50, derandomize=False, shadow_models=4),
    "ci": Profile("ci", examples=100, derandomize=True),
    "release": Profile(
        "release",
        examples=500,
        derandomize=True,
        resamples=5,
        attack_restarts=8,
        attack_steps=100,
        decision_steps=40,
        shadow_models=32,
    ),
}


def default_profile(environ: Mapping[str, str] = os.environ) -> str:
    return "ci" if environ.get("CI") else "dev"
