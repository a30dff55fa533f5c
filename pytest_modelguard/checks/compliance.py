"""Compliance: every clause of a framework in scope has passing evidence in this session.

A clause is evidenced by gates of named requirement kinds (the mapping below, documented
in ``docs/compliance.md``). The gate reads the session's other verdicts: a clause passes
when each kind it needs has at least one gate and every one of them passed. A gate that
did not run (deselected, skipped), errored, failed or was waived is not evidence: a
waiver accepts a shortfall, it does not show the requirement held.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pytest_modelguard.checks._gate import decide
from pytest_modelguard.core.spec import Needs, Reports, requirement
from pytest_modelguard.core.verdict import GateError, Verdict


@dataclass(frozen=True)
class Clause:
    key: str
    title: str
    needs: tuple[str, ...]  # requirement kinds; each needs passing evidence
    example: str  # a marker that would evidence it


FRAMEWORKS: dict[str, dict[str, Clause]] = {
    "eu-ai-act": {
        c.key: c
        for c in [
            Clause(
                "art9",
                "Article 9: risk management system",
                ("performance", "robust"),
                '@performance(metric="roc_auc", min=...) and @robust(eps=...)',
            ),
            Clause(
                "art10",
                "Article 10: data and data governance (examination for biases)",
                ("fairness",),
                "@fairness(max_disparity=0.1)",
            ),
            Clause(
                "art11",
                "Article 11: technical documentation",
                ("transparency",),
                '@transparency(model_card="MODEL_CARD.md")',
            ),
            Clause(
                "art13",
                "Article 13: transparency and provision of information to deployers",
                ("transparency",),
                "@transparency(model_card=..., verify_claims=True)",
            ),
            Clause(
                "art14",
                "Article 14: human oversight (interpretable outputs)",
                ("explainability",),
                "@explainability(protected_not_in_top_k=3)",
            ),
            Clause(
                "art15",
                "Article 15: accuracy, robustness and cybersecurity",
                ("performance", "robust", "security"),
                "@performance(...), @robust(eps=...) and @security(sha256=...)",
            ),
        ]
    },
    "nist-ai-rmf": {
        c.key: c
        for c in [
            Clause(
                "measure-2.3",
                "MEASURE 2.3: performance is measured and demonstrated",
                ("performance",),
                "@performance(metric=..., min=...)",
            ),
            Clause(
                "measure-2.5",
                "MEASURE 2.5: the system is valid and reliable",
                ("performance", "robust"),
                "@performance(...) and @robust(...)",
            ),
            Clause(
                "measure-2.6",
                "MEASURE 2.6: the system is evaluated for safety (robustness)",
                ("robust",),
                '@robust(perturbation="gaussian_noise", ...)',
            ),
            Clause(
                "measure-2.7",
                "MEASURE 2.7: security and resilience are evaluated",
                ("security",),
                "@security(fuzz=True) or @security(max_attack_success=...)",
            ),
            Clause(
                "measure-2.8",
                "MEASURE 2.8: transparency and accountability are examined",
                ("transparency",),
                "@transparency(model_card=...)",
            ),
            Clause(
                "measure-2.9",
                "MEASURE 2.9: the model is explained and interpreted",
                ("explainability",),
                "@explainability(...)",
            ),
            Clause(
                "measure-2.10",
                "MEASURE 2.10: privacy risk is examined",
                ("privacy",),
                "@privacy(max_mia_auc=0.6)",
            ),
            Clause(
                "measure-2.11",
                "MEASURE 2.11: fairness and bias are evaluated",
                ("fairness",),
                "@fairness(max_disparity=0.1)",
            ),
        ]
    },
}
#: the only status that evidences a clause (a waived gate fell short)
PASSING = ("pass",)


@requirement(example='framework="eu-ai-act"', rank=80, needs=Needs(model="unused", data="unused"))
def compliance(
    model: Any = None,
    dataset: Any = None,
    *,
    framework: Annotated[str | None, Reports("{value}")] = None,
    scope: Sequence[str] | None = None,
    session_verdicts: Sequence[tuple[str, Verdict]] = (),
    seed: int = 0,
) -> Verdict:
    """Gate that each clause of ``framework`` in ``scope`` (default: all) has passing
    evidence among ``session_verdicts`` (the plugin passes every other gate of the run)."""
    started = time.perf_counter()
    if framework not in FRAMEWORKS:
        raise GateError(f"framework={framework!r}: choose one of {', '.join(FRAMEWORKS)}")
    clauses = FRAMEWORKS[framework]
    if scope is not None:
        unknown = [key for key in scope if key not in clauses]
        if unknown or not scope:
            raise GateError(
                f"scope names unknown clause(s) {unknown} of {framework}; choose from "
                f"{', '.join(clauses)}"
            )
        clauses = {key: clauses[key] for key in scope}
    gates = [(nodeid, v) for nodeid, v in session_verdicts if v.requirement != "compliance"]
    matrix = [_evidence(clause, gates) for clause in clauses.values()]
    missing = [row for row in matrix if row["status"] != "pass"]
    verdict = decide(
        requirement="compliance",
        metric=framework,
        values=[float(len(missing))],
        operator="<=",
        threshold=0.0,
        n=len(matrix),
        formula="clauses in scope without passing evidence",
        evidence={"framework": framework, "matrix": matrix},
    )
    verdict.evidence["lacking"] = [row["clause"] for row in missing]
    if missing:
        verdict.counterexample = [
            f"{row['title']}: {row['reason']}; evidence it with {row['example']}" for row in missing
        ]
        verdict.message = verdict.describe()
    verdict.duration = time.perf_counter() - started
    return verdict


_NOT_EVIDENCE = {
    "fail": "failed",
    "error": "could not be evaluated",
    "waived": "fell short and are waived (a waiver is not evidence)",
}


def _evidence(clause: Clause, gates: Sequence[tuple[str, Verdict]]) -> dict[str, Any]:
    tests: dict[str, list[str]] = {}
    reasons = []
    for kind in clause.needs:
        of_kind = [(nodeid, v) for nodeid, v in gates if v.requirement == kind]
        tests[kind] = sorted({nodeid for nodeid, _ in of_kind})
        if not of_kind:
            reasons.append(f"no {kind} gate ran")
            continue
        statuses = {v.status for _, v in of_kind} - set(PASSING)
        for status in sorted(statuses, key=lambda s: (s not in _NOT_EVIDENCE, s)):
            short = sorted({nodeid for nodeid, v in of_kind if v.status == status})
            what = _NOT_EVIDENCE.get(status, f"ended {status!r}")
            reasons.append(f"{kind} gate(s) {what}: {', '.join(short)}")
    return {
        "clause": clause.key,
        "title": clause.title,
        "needs": list(clause.needs),
        "tests": tests,
        "status": "fail" if reasons else "pass",
        "reason": "; ".join(reasons),
        "example": clause.example,
    }
