"""Compliance: every clause of a framework has passing evidence among this run's gates.

These gates run after every other gate of the session and read their verdicts; a clause
passes when each requirement kind it needs has at least one gate and none failed. Run a
subset (``-m modelguard_performance``) and the clauses it leaves without evidence fail: run them
with the whole suite.
"""

from __future__ import annotations

from pytest_modelguard import compliance


# All six clauses in scope (Articles 9, 10, 11, 13, 14 and 15).
@compliance(framework="eu-ai-act")
def test_eu_ai_act(): ...


# All eight MEASURE clauses in scope (2.3, 2.5-2.11).
@compliance(framework="nist-ai-rmf")
def test_nist_ai_rmf(): ...
