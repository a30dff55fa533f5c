"""The foolbox bridge: where models become foolbox models and attacks run, in one place.

foolbox 3.3.4 on TensorFlow 2 and numpy 2 has traps (DESIGN.md section 7); they are
handled here once, so every gate that attacks a model (robustness, security) does it the
same way:

- numpy 2 removed ``np.find_common_type``, which eagerpy 0.30 calls: :func:`load_foolbox`
  sets a small equivalent on numpy when it is missing, right before foolbox is used.
- ``import foolbox`` warns that ``scipy.ndimage.filters`` is deprecated: that one warning
  is filtered where foolbox is imported.
- Inputs are float32 and labels int64 ``tf`` tensors (no mixed dtypes reach eagerpy);
  ``TensorFlowModel`` gets an explicit device (its default probes for a GPU with a
  deprecated call).
- foolbox needs logits: models that emit probabilities get logits derived from them, and
  :attr:`AttackRun.logits` says how.
- The decision-based attacks divide by zero (and feed NaN to the model) on rows the model
  already misclassifies, and ``HopSkipJumpAttack`` clips to ``[0, 1]`` whatever the bounds:
  only correctly classified rows are attacked by them, and HopSkipJump runs in unit space.
- Randomness (PGD random starts, noise, the initialisation of decision-based attacks)
  comes from TensorFlow's global seed, set from the gate's seed right before the attack.
  Models without gradients run as foolbox ``NumPyModel`` on ``tf`` tensors, so eagerpy
  draws their random numbers from the same seeded TensorFlow stream, not from numpy's
  global one. The TensorFlow seed is left set afterwards (nothing else is touched).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_modelguard.adapters import Adapter, to_numpy
from pytest_modelguard.core import stats
from pytest_modelguard.core.dataset import Dataset
from pytest_modelguard.core.verdict import GateError, require_count

DEVICE = "/cpu:0"
_SCIPY_WARNING = r".*scipy\.ndimage\.filters.*"
_PROBABILITY_FLOOR = 1e-30  # log(0) would be -inf: probabilities are floored before the log
DECISION_BASED = ("boundary", "hopskipjump")  # attacks that start from a misclassified input


@dataclass(frozen=True)
class AttackSpec:
    """What an attack needs and allows; the first norm is the default."""

    name: str
    norms: tuple[str, ...]
    gradients: bool  # needs the model's gradients
    steps: int | None  # default steps (None: the attack takes no steps=)
    random: bool  # draws random numbers, so restarts= can find more
    summary: str


ATTACKS: dict[str, AttackSpec] = {
    a.name: a
    for a in [
        AttackSpec("pgd", ("linf", "l2"), True, 40, True, "projected gradient descent"),
        AttackSpec("fgsm", ("linf", "l2"), True, None, False, "one gradient-sign step"),
        AttackSpec("l2pgd", ("l2",), True, 50, True, "projected gradient descent in L2"),
        AttackSpec("deepfool", ("linf", "l2"), True, 50, False, "DeepFool, minimal step"),
        AttackSpec("fmn", ("linf", "l2"), True, 100, False, "fast minimum-norm (FMN)"),
        AttackSpec("cw", ("l2",), True, 100, False, "Carlini & Wagner L2"),
        AttackSpec("hopskipjump", ("l2", "linf"), False, 32, True, "HopSkipJump, decisions"),
        AttackSpec("boundary", ("l2",), False, 1000, True, "Boundary attack, decisions"),
        AttackSpec("noise", ("linf", "l2"), False, 100, True, "best of random noise draws"),
    ]
}


@dataclass(frozen=True)
class AttackRun:
    """The outcome of one attack on a batch of rows."""

    success: np.ndarray  # (len(eps), n) bool: the prediction moved off the label within eps
    logits: str  # where the logits foolbox saw came from
    seed: int  # the TensorFlow seed set before the attack


def load_foolbox() -> Any:
    """foolbox, imported with its scipy warning filtered and numpy 2 patched for eagerpy."""
    if not hasattr(np, "find_common_type"):

        def find_common_type(array_types: Any, scalar_types: Any) -> np.dtype:
            return np.result_type(*array_types, *scalar_types)

        np.find_common_type = find_common_type  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _SCIPY_WARNING, DeprecationWarning)
            import foolbox
    except ImportError:
        raise GateError(
            "adversarial gates need foolbox: pip install 'pytest-modelguard[robustness]'"
        ) from None
    return foolbox


def tf_seed(seed: int) -> int:
    """The TensorFlow seed of a gate seed (TensorFlow takes int64; gate seeds are 64-bit)."""
    return int(seed) & (2**63 - 1)


def is_differentiable(adapter: Adapter) -> bool:
    """Whether foolbox can take this model's gradients (Keras and TensorFlow models)."""
    from pytest_modelguard.adapters.keras import KerasAdapter
    from pytest_modelguard.adapters.tensorflow import TensorFlowAdapter

    return isinstance(adapter, KerasAdapter | TensorFlowAdapter)


def resolve(
    adapter: Adapter, attack: str | None, norm: str | None, steps: int | None, restarts: int
) -> tuple[AttackSpec, str, int | None]:
    """Validate an attack request against the model: the spec, the norm and the steps to use.

    The default attack is ``pgd`` for models with gradients and ``boundary`` (decision
    based) for the others.
    """
    differentiable = is_differentiable(adapter)
    name = attack if attack is not None else ("pgd" if differentiable else "boundary")
    spec = ATTACKS.get(name)  # type: ignore[arg-type]
    if spec is None:
        raise GateError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    if spec.gradients and not differentiable:
        raise GateError(
            f"attack={name!r} needs gradients, but {adapter.name} has none (only Keras and "
            "TensorFlow models do): use a decision-based attack, attack='hopskipjump' or "
            "attack='boundary' (or attack='noise')"
        )
    norm = spec.norms[0] if norm is None else norm
    if norm not in spec.norms:
        allowed = " or ".join(repr(n) for n in spec.norms)
        raise GateError(f"attack={name!r} works in norm={allowed}, not norm={norm!r}")
    if steps is not None:
        if spec.steps is None:
            raise GateError(f"attack={name!r} is a single step: drop steps=")
        require_count("steps", steps)
    require_count("restarts", restarts)
    if restarts > 1 and not spec.random:
        randomised = ", ".join(a.name for a in ATTACKS.values() if a.random)
        raise GateError(
            f"attack={name!r} is deterministic, so restarts={restarts} would repeat it: drop "
            f"restarts= (it applies to {randomised})"
        )
    return spec, norm, spec.steps if steps is None else steps


def build_attack(
    fb: Any,
    name: str,
    norm: str,
    steps: int | None,
    n_classes: int,
    options: dict[str, Any] | None = None,
) -> Any:
    """The foolbox attack object for ``name`` in ``norm`` (foolbox's defaults otherwise;
    ``options`` go to its constructor, e.g. a PGD run's ``rel_stepsize``)."""
    a, linf, options = fb.attacks, norm == "linf", options or {}
    if name in ("pgd", "l2pgd"):
        return (a.LinfPGD if linf else a.L2PGD)(steps=steps, **options)
    if name == "adampgd":
        return (a.LinfAdamPGD if linf else a.L2AdamPGD)(steps=steps, **options)
    if name == "fmn":
        return (a.LInfFMNAttack if linf else a.L2FMNAttack)(steps=steps, **options)
    if name == "fgsm":
        return a.LinfFastGradientAttack() if linf else a.L2FastGradientAttack()
    if name == "deepfool":
        deepfool = a.LinfDeepFoolAttack if linf else a.L2DeepFoolAttack
        return deepfool(steps=steps, candidates=min(10, n_classes))
    if name == "cw":
        return a.L2CarliniWagnerAttack(steps=steps)
    if name == "hopskipjump":
        return a.HopSkipJumpAttack(steps=steps, constraint=norm, **options)
    if name == "boundary":
        return a.BoundaryAttack(steps=steps)
    if name == "noise":
        if linf:
            return a.LinfRepeatedAdditiveUniformNoiseAttack(repeats=steps)
        return a.L2RepeatedAdditiveGaussianNoiseAttack(repeats=steps)
    raise GateError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")


def run_attack(
    adapter: Adapter,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    attack: str,
    norm: str,
    eps: list[float | None],
    steps: int | None,
    restarts: int,
    seed: int,
    low: float | np.ndarray,
    high: float | np.ndarray,
    output_kind: str,
    classes: np.ndarray,
    columns: list[str] | None = None,
    options: dict[str, Any] | None = None,
    compiled: dict[Any, Any] | None = None,
) -> AttackRun:
    """Attack rows ``x`` (float32, inside ``[low, high]``) whose true class indices are ``labels``,
    with a request :func:`resolve` accepted.

    ``classes`` are the classes of the model's score columns (for a model returning labels,
    the labels it may return). Scalar bounds attack in input space; per-feature bounds
    (arrays) attack in unit space, ``x = low + u * (high - low)``, so eps is a fraction of
    each feature's range. With ``restarts`` > 1 a row counts as broken when any run breaks it.
    An eps of None asks a minimum-norm attack for its unbounded result.
    """
    fb = load_foolbox()
    import tensorflow as tf

    per_feature = np.ndim(low) > 0
    # foolbox's HopSkipJump clips to [0, 1] whatever the model's bounds (it loops forever
    # on inputs outside them): it runs in unit space, with eps scaled to match
    unit = per_feature or (attack == "hopskipjump" and (float(low), float(high)) != (0.0, 1.0))
    if unit:
        low32 = np.asarray(low, dtype=np.float32)
        span = np.asarray(high, dtype=np.float32) - low32
        safe = np.where(span > 0, span, 1).astype(np.float32)
        inputs = np.where(span > 0, (x - low32) / safe, 0).astype(np.float32)
        box = (0.0, 1.0)
        if not per_feature:
            eps = [None if e is None else e / float(span) for e in eps]
    else:
        inputs, box = x, (float(low), float(high))
    n_classes = max(len(classes), 2)
    if is_differentiable(adapter):
        base, note = _tf_logits(adapter, output_kind)
        call = base if not unit else (lambda t: base(low32 + t * span))
        if compiled is not None:  # one graph for an ensemble's many calls (no eager cost)
            if unit not in compiled:
                compiled[unit] = tf.function(call, reduce_retracing=True)
            call = compiled[unit]
        fmodel = fb.TensorFlowModel(call, bounds=box, device=DEVICE)
    else:
        scale = (lambda u: low32 + u * span) if unit else (lambda u: u)
        function, note = _numpy_logits(adapter, output_kind, classes, scale, columns)
        fmodel = fb.NumPyModel(function, bounds=box)
        n_classes = function.n_classes  # type: ignore[attr-defined]

    seed = tf_seed(seed)
    with tf.device(DEVICE):
        images = tf.constant(inputs, dtype=tf.float32)
        targets = tf.constant(labels, dtype=tf.int64)
    instance = build_attack(fb, attack, norm, steps, n_classes, options)
    success = np.zeros((len(eps), len(labels)), dtype=bool)
    attacked = np.arange(len(labels))
    try:
        if attack in DECISION_BASED:
            # these start from a misclassified input; a row the model already gets wrong
            # starts at itself and foolbox divides by that zero distance (NaN inputs reach
            # the model): such rows count as broken, as foolbox counts them, unattacked
            wrong = np.asarray(fmodel(images)).argmax(axis=1) != labels
            success[:, wrong] = True
            attacked = np.flatnonzero(~wrong)
            with tf.device(DEVICE):
                images, targets = tf.gather(images, attacked), tf.gather(targets, attacked)
        tf.random.set_seed(seed)
        for _ in range(restarts if len(attacked) else 0):
            _, _, found = instance(fmodel, images, targets, epsilons=list(eps))
            success[:, attacked] |= np.asarray(found.numpy(), dtype=bool)
            if success.all():
                break
    except GateError:
        raise
    except Exception as exc:
        raise GateError(
            f"the {attack} attack on {adapter.name} raised {type(exc).__name__}: {exc}"
        ) from exc
    return AttackRun(success=success, logits=note, seed=seed)


# -- the worst-case ensemble ----------------------------------------------------------------

#: PGD step sizes (fractions of eps) of the ensemble's runs, in turn: foolbox's default
#: first, so the ensemble's first run is ``attack="pgd"`` itself and never finds less
PGD_SCHEDULE = (0.01 / 0.3, 0.1, 0.01, 0.25, 0.003)
#: HopSkipJump's gradient estimates, smaller than foolbox's defaults (100 to 10,000 model
#: calls a step): it only has to show that the gradient attacks missed something obvious
HOPSKIPJUMP_BUDGET = {"initial_gradient_eval_steps": 20, "max_gradient_eval_steps": 60}
MIN_NORM = ("fmn", "deepfool")  # minimum-norm attacks: one run answers every eps, and None
UNBOUNDED_MIN_SUCCESS = 0.95  # an attack without eps must break (almost) every row
DECISION_MARGIN = 0.03  # rows (fraction) a decision-based attack may break that gradients missed
MONOTONE_SLACK = 0.02  # robust accuracy may rise by this much (random restarts) with eps


@dataclass(frozen=True)
class EnsembleRun:
    """The per-row worst case over several attacks; every row given was classified right."""

    success: np.ndarray  # (len(eps), n): broken by some attack, made monotone in eps
    raw_success: np.ndarray  # the same before a row broken at eps was counted at larger eps
    broke_first: dict[str, list[int]]  # rows each attack broke that earlier ones had not
    runs: list[dict[str, Any]]  # every attack run: settings, rows attacked, rows broken
    unbounded_success: float  # fraction broken with no eps limit (gradient attacks only)
    decision_only: list[int]  # per eps, rows only the decision-based attack broke
    clean_rows: int  # rows the model classified right, the ones the checks count
    seconds: dict[str, float]  # time spent in each attack
    logits: str
    seed: int

    def masking_problems(self, eps: list[float]) -> list[str]:
        """The checks of Carlini et al. (2019) this run fails: each makes it unreliable."""
        n = self.clean_rows
        problems = []
        accuracy = 1.0 - self.raw_success.mean(axis=1)
        for i in range(1, len(eps)):
            rise = float(accuracy[i] - accuracy[:i].min())
            if rise > MONOTONE_SLACK:
                problems.append(
                    f"robust accuracy rises with eps ({accuracy[:i].min():.3g} at a smaller eps, "
                    f"{accuracy[i]:.3g} at eps={eps[i]:g}): a larger budget found less, so the "
                    "attacks did not converge"
                )
        if self.unbounded_success < UNBOUNDED_MIN_SUCCESS:
            problems.append(
                f"the gradient attacks without an eps limit broke only "
                f"{self.unbounded_success:.1%} of the rows (an unbounded attack must reach "
                f"{UNBOUNDED_MIN_SUCCESS:.0%}): the gradients do not lead anywhere, they are "
                "masked (quantised or clipped inputs, saturated outputs, randomness)"
            )
        worst = max(self.decision_only) if self.decision_only else 0
        if n and worst / n > DECISION_MARGIN:
            problems.append(
                f"a decision-based attack (no gradients) broke {worst} of {n} rows that every "
                f"gradient attack left standing (more than {DECISION_MARGIN:.0%}): the "
                "gradients mislead the attacks, they are masked"
            )
        return problems


def run_ensemble(
    adapter: Adapter,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    norm: str,
    eps: list[float],
    restarts: int,
    steps: int,
    decision_steps: int,
    seed: int,
    low: float | np.ndarray,
    high: float | np.ndarray,
    output_kind: str,
    classes: np.ndarray,
    columns: list[str] | None = None,
    clean: np.ndarray | None = None,
) -> EnsembleRun:
    """Attack rows with PGD runs (random starts, a step size
    each from :data:`PGD_SCHEDULE`), then the minimum-norm attacks, then HopSkipJump
    (decisions only) on the rows still standing; a row is robust only if all of them fail.

    Each attack after the first sees only the rows the earlier ones left standing, so the
    ensemble costs about one PGD run plus attacks on the survivors. The first run is
    ``attack="pgd"`` on every row, exactly (same rows, seed and step size): the ensemble
    never finds less. ``clean`` marks the rows the model classifies right; only they are
    counted and attacked after the first run.
    """
    n = len(labels)
    clean = np.ones(n, dtype=bool) if clean is None else np.asarray(clean, dtype=bool)
    success = np.zeros((len(eps), n), dtype=bool)
    broke_first: dict[str, list[int]] = {}
    runs: list[dict[str, Any]] = []
    common = dict(low=low, high=high, output_kind=output_kind, classes=classes, columns=columns)
    note, first_seed = "", tf_seed(seed)
    seconds: dict[str, float] = {}
    graphs: dict[Any, Any] = {}  # the model as a tf.function, traced once for every attack

    def attack(
        name: str, rows: np.ndarray, epsilons: list[float | None], eager: bool = False, **kw: Any
    ) -> np.ndarray:
        nonlocal note
        started = time.perf_counter()
        found = np.zeros((len(epsilons), n), dtype=bool)
        if len(rows):
            run = run_attack(
                adapter, x[rows], labels[rows], attack=name, norm=norm, eps=epsilons,
                restarts=1, compiled=None if eager else graphs, **common, **kw,
            )  # fmt: skip
            found[:, rows] = run.success
            note = run.logits
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
        return found

    def credit(name: str, found: np.ndarray) -> None:
        new = found & ~success & clean
        counts = broke_first.setdefault(name, [0] * len(eps))
        for i in range(len(eps)):
            counts[i] += int(new[i].sum())
        success[:] |= found

    for r in range(restarts):
        rel = PGD_SCHEDULE[r % len(PGD_SCHEDULE)]
        options = {"rel_stepsize": rel}
        if r == 0:  # attack="pgd" itself, every eps in one call, as the single attack runs
            found = attack("pgd", np.arange(n), list(eps), eager=True, steps=steps, seed=seed)
        else:
            found = np.zeros_like(success)
            for i, e in enumerate(eps):
                standing = np.flatnonzero(~success[i])
                found[i] = attack(
                    "pgd", standing, [e], steps=steps, seed=seed + r, options=options
                )[0]
        standing_rows = int((~success).sum(axis=1).max())
        runs.append(
            {"attack": "pgd", "rel_stepsize": round(rel, 4), "steps": steps,
             "rows": standing_rows, "broke": (found & clean).sum(axis=1).tolist()}
        )  # fmt: skip
        credit("pgd", found)
        success[:, ~clean] = True  # misclassified already: nothing more to attack
    unbounded = success.any(axis=0)
    for name in MIN_NORM:
        standing = np.flatnonzero(~success.all(axis=0))
        found = attack(name, standing, [*eps, None], steps=steps, seed=seed)
        unbounded |= found[-1]
        runs.append(
            {"attack": name, "steps": steps, "rows": len(standing),
             "broke": found[:-1].sum(axis=1).tolist(),
             "broke_unbounded": int(found[-1].sum())}
        )  # fmt: skip
        credit(name, found[:-1])
    decision_only = [0] * len(eps)
    if decision_steps:
        standing = np.flatnonzero(~success.all(axis=0))
        found = attack(
            "hopskipjump", standing, list(eps), steps=decision_steps, seed=seed,
            options=HOPSKIPJUMP_BUDGET,
        )  # fmt: skip
        decision_only = (found & ~success).sum(axis=1).tolist()
        runs.append({"attack": "hopskipjump", "steps": decision_steps, "rows": len(standing),
                     "broke": found.sum(axis=1).tolist()})  # fmt: skip
        credit("hopskipjump", found)
    raw = success.copy()
    # an input that breaks a row within eps also lies within every larger eps
    order = np.argsort(eps, kind="stable")
    success[order] = np.logical_or.accumulate(success[order], axis=0)
    return EnsembleRun(
        success=success,
        raw_success=raw,
        broke_first=broke_first,
        runs=runs,
        unbounded_success=float(unbounded[clean].mean()) if clean.any() else 1.0,
        decision_only=[int(v) for v in decision_only],
        clean_rows=int(clean.sum()),
        seconds={k: round(v, 3) for k, v in seconds.items()},
        logits=note,
        seed=first_seed,
    )


# -- logits of each kind of model ------------------------------------------------------------


def _tf_logits(adapter: Adapter, output_kind: str) -> tuple[Callable[[Any], Any], str]:
    """A differentiable function from a float32 tensor to ``(n, k >= 2)`` logits."""
    import tensorflow as tf

    model = adapter.model
    note = "the model's outputs"
    call: Callable[[Any], Any] = lambda t: _tf_call(model, t)  # noqa: E731
    if output_kind == "probabilities":
        rebuilt = _keras_pre_activation(model)
        if rebuilt is not None:
            call, note = rebuilt, "derived from probabilities: the last layer without activation"
        else:
            note = "derived from probabilities: their logarithm (gradients vanish where p ~ 0)"
            probabilities = call

            def call(t: Any) -> Any:
                p = tf.maximum(tf.cast(probabilities(t), tf.float32), _PROBABILITY_FLOOR)
                if p.shape.rank == 2 and p.shape[1] > 1:
                    return tf.math.log(p)
                p = tf.reshape(p, (-1, 1))
                q = tf.maximum(1.0 - p, _PROBABILITY_FLOOR)
                return tf.math.log(p) - tf.math.log(q)  # one logit, made two below

    elif output_kind != "logits":
        raise GateError(
            f"{adapter.name} returns {output_kind}, not class scores: an adversarial gate "
            "needs a classifier that outputs logits or probabilities"
        )

    def logits(t: Any) -> Any:
        z = tf.cast(call(t), tf.float32)
        if z.shape.rank == 1:
            z = tf.reshape(z, (-1, 1))
        if z.shape[1] == 1:  # binary, one logit: foolbox needs a score per class
            z = tf.concat([tf.zeros_like(z), z], axis=1)
        return z

    return logits, note


def _tf_call(model: Any, t: Any) -> Any:
    """The model on a tensor: a SavedModel's ``serving_default`` signature, else a call."""
    signatures = getattr(model, "signatures", None)
    if signatures and "serving_default" in signatures:
        signature = signatures["serving_default"]
        (name,) = signature.structured_input_signature[1].keys()
        out = signature(**{name: t})
        if isinstance(out, dict):
            if len(out) != 1:
                raise GateError(f"the model returned outputs {sorted(out)}; wrap it to return one")
            out = next(iter(out.values()))
        return out
    return model(t)


def _keras_pre_activation(model: Any) -> Callable[[Any], Any] | None:
    """The Keras model up to its last layer's pre-activation, or None if it cannot be rebuilt.

    Logits computed before a softmax/sigmoid keep their gradients where the probabilities
    saturate; the user's model is not modified (the last layer is cloned, weights copied).
    """
    layers = getattr(model, "layers", None)
    if not layers or not getattr(model, "inputs", None):
        return None
    try:
        import keras

        last = layers[-1]
        features = last.input
        if type(last).__name__ == "Softmax":
            return keras.Model(model.inputs, features)
        config = dict(last.get_config(), activation="linear")
        clone = type(last).from_config(config)
        rebuilt = keras.Model(model.inputs, clone(features))
        clone.set_weights(last.get_weights())
        return rebuilt
    except Exception:  # subclassed or multi-input models: fall back to log-probabilities
        return None


class _NumpyLogits:
    """``rows -> (n, k >= 2)`` float32 logits for models without gradients (foolbox NumPyModel)."""

    def __init__(
        self,
        adapter: Adapter,
        kind: str,
        classes: np.ndarray,
        scale: Callable[[np.ndarray], np.ndarray],
        columns: list[str] | None,
    ) -> None:
        self.adapter, self.kind, self.classes = adapter, kind, classes
        self.scale, self.columns = scale, columns
        self.n_classes = len(classes) + 1 if kind == "labels" else max(len(classes), 2)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = self.scale(rows)
        if self.columns is not None:
            import pandas as pd

            rows = pd.DataFrame(rows, columns=self.columns)
        raw = to_numpy(self.adapter.predict_batch(rows))
        if self.kind == "labels":  # one-hot; a label outside classes gets the extra column
            flat = raw.reshape(-1)
            where = np.searchsorted(self.classes, flat)
            known = where < len(self.classes)
            known[known] = self.classes[where[known]] == flat[known]
            scores = np.zeros((len(flat), self.n_classes), dtype=np.float32)
            scores[np.arange(len(flat)), np.where(known, where, len(self.classes))] = 1.0
            return scores
        scores = raw.astype(np.float32).reshape(len(raw), -1)
        if self.kind == "probabilities":
            p = np.maximum(scores, _PROBABILITY_FLOOR)
            if p.shape[1] == 1:
                scores = np.log(p) - np.log(np.maximum(1 - p, _PROBABILITY_FLOOR))
            else:
                scores = np.log(p)
        if scores.shape[1] == 1:
            scores = np.concatenate([np.zeros_like(scores), scores], axis=1)
        return scores.astype(np.float32)


def _numpy_logits(
    adapter: Adapter,
    kind: str,
    classes: np.ndarray,
    scale: Callable[[np.ndarray], np.ndarray],
    columns: list[str] | None,
) -> tuple[_NumpyLogits, str]:
    if kind not in ("probabilities", "logits", "labels"):
        raise GateError(
            f"{adapter.name} returns {kind}, not classes: an adversarial gate needs a classifier"
        )
    notes = {
        "probabilities": "derived from probabilities: their logarithm (decisions only)",
        "logits": "the model's outputs",
        "labels": "one-hot of the predicted labels (decisions only)",
    }
    return _NumpyLogits(adapter, kind, classes, scale, columns), notes[kind]


# -- the input box an attack moves in, and the rows it attacks --------------------------


def attack_bounds(
    dataset: Dataset, given: Any, x: np.ndarray
) -> tuple[float | np.ndarray, float | np.ndarray, dict[str, Any]]:
    """The input box to attack in: scalar bounds, or per-feature arrays (unit-scaled attack)."""
    missing = int(np.sum(~np.isfinite(x)))
    if missing:
        raise GateError(
            f"dataset {dataset.name!r} has {missing} missing or infinite feature values: an "
            "attack moves finite inputs within bounds; impute them or drop those rows"
        )
    source = "marker" if given is not None else "dataset"
    declared = given if given is not None else dataset.bounds
    if declared is None:
        if dataset.kind == "image":
            raise GateError(
                f"image dataset {dataset.name!r} has no bounds: give the pixel range the model "
                "takes, Dataset.from_arrays(..., bounds=(0, 1)) or @robust(bounds=(0, 255))"
            )
        low, high = x.min(axis=0), x.max(axis=0)
        return (
            low,
            high,
            {
                "bounds": "observed range of each feature",
                "bounds_source": "data",
                "eps_units": "fraction of each feature's range",
            },
        )
    if isinstance(declared, Mapping):
        low, high = _per_feature(dataset, declared, x)
        evidence = {
            "bounds": {str(k): [float(a), float(b)] for k, (a, b) in declared.items()},
            "bounds_source": source,
            "eps_units": "fraction of each feature's range (features without bounds: observed)",
        }
    else:
        low, high = _pair(declared, "bounds")
        evidence = {"bounds": [low, high], "bounds_source": source, "eps_units": "input units"}
    outside = int(np.sum((x < low) | (x > high)))
    if outside:
        raise GateError(
            f"{outside} feature values of dataset {dataset.name!r} lie outside the bounds "
            f"({source}) [{np.min(low):g}, {np.max(high):g}]: bounds are the range of the "
            "model's input (before any preprocessing inside the model); fix bounds= or the data"
        )
    return low, high, evidence


def _per_feature(
    dataset: Dataset, declared: Mapping[str, Any], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    names = dataset.feature_names
    if names is None or x.ndim != 2:
        raise GateError(
            "bounds per feature need named tabular features: give feature_names= to the "
            "Dataset, or one (low, high) for every input"
        )
    unknown = [k for k in declared if k not in names]
    if unknown:
        raise GateError(f"bounds name unknown features {unknown}; the features are {names}")
    low, high = x.min(axis=0), x.max(axis=0)
    for key, pair in declared.items():
        low[names.index(key)], high[names.index(key)] = _pair(pair, f"bounds[{key!r}]")
    return low, high


def _pair(value: Any, role: str) -> tuple[float, float]:
    pair = list(value) if isinstance(value, list | tuple) else []
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in pair
    )
    if len(pair) != 2 or not numbers or pair[0] >= pair[1]:
        raise GateError(f"{role}={value!r}: give (low, high), two finite numbers with low < high")
    return float(pair[0]), float(pair[1])


def check_eps(epsilons: list[float], norm: str, low: Any, high: Any, size: int) -> None:
    """An eps that lets the attack reach any input measures nothing: an error."""
    per_feature = np.ndim(low) > 0
    width = 1.0 if per_feature else float(high) - float(low)
    reach = width if norm == "linf" else width * math.sqrt(size)
    too_large = [e for e in epsilons if e > reach]
    if too_large:
        units = "a fraction of each feature's range" if per_feature else f"units of {low}..{high}"
        raise GateError(
            f"eps={too_large[0]:g} is larger than the input range ({norm} reach {reach:g}, "
            f"eps in {units}): the attack could replace any input by any other; give eps in "
            "the units of the bounds (8/255 of a [0, 1] image is eps=0.031)"
        )


def stratified_rows(target: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Indices of ``samples`` rows, each class in proportion (largest remainders), seeded;
    every row, in order, when ``samples`` covers the dataset."""
    n = len(target)
    if samples >= n:
        return np.arange(n)
    rng = stats.rng_from(seed)
    _, inverse = np.unique(target, return_inverse=True)
    counts = np.bincount(inverse)
    quota = samples * counts / n
    take = np.floor(quota).astype(int)
    extra = np.argsort(-(quota - take), kind="stable")[: samples - take.sum()]
    take[extra] += 1
    chosen = [rng.permutation(np.flatnonzero(inverse == c))[:k] for c, k in enumerate(take) if k]
    return np.sort(np.concatenate(chosen))
