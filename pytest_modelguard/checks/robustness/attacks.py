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
  comes from eagerpy's draws, which :func:`seeded_draws` makes stateless during an attack:
  the very numbers ``tf.random.set_seed(seed)`` would give, bit for bit, without calling
  it (setting TensorFlow's seed clears its caches of instantiated functions, which an
  ensemble's compiled graphs then rebuild at a cost of ~0.3 s each). Decision-based
  attacks (and every attack on a model without gradients) run as foolbox ``NumPyModel``
  on NumPy arrays, a Keras model through its compiled function: eager TensorFlow ops made
  them about 4x slower. Their draws come from a ``RandomState`` of the seed
  (:func:`_seeded_numpy_draws`), not numpy's global stream. No global seed is set or changed.
"""

from __future__ import annotations

import math
import random
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
DECISION_DEFAULT = "hopskipjump"  # the default attack on a model without gradients


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
        AttackSpec("hopskipjump", ("linf", "l2"), False, 32, True, "HopSkipJump, decisions"),
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
    points: np.ndarray | None = None  # the inputs found at the last eps (input space)


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


_MAXINT32 = 2**31 - 1  # TensorFlow truncates its seeds modulo this (random_seed.py)


@contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """eagerpy's TensorFlow draws (``uniform``, ``normal``), made stateless for the block.

    The k-th draw returns exactly what the k-th draw after ``tf.random.set_seed(seed)``
    returns: TensorFlow then seeds each eager random op with the global seed and the
    k-th number of ``random.Random(seed)``, and a fresh Philox stream keyed that way is
    what ``StatelessRandom*V2`` computes from key and counter (a test checks it against
    ``set_seed``). Nothing global changes, so TensorFlow's caches survive the attack.
    """
    import tensorflow as tf
    from eagerpy.tensor.tensorflow import TensorFlowTensor

    global_seed = int(seed) % _MAXINT32
    op_seeds = random.Random(int(seed))

    def philox(op: Any, shape: Any, dtype: Any) -> Any:
        op_seed = op_seeds.randint(0, _MAXINT32) % _MAXINT32
        if (global_seed, op_seed) == (0, 0):
            op_seed = _MAXINT32  # as TensorFlow: (0, 0) would mean "unseeded"
        shape = tuple(shape) if isinstance(shape, tuple | list) else (shape,)
        return op(
            shape=tf.constant(shape, tf.int32), key=tf.constant([global_seed], tf.uint64),
            counter=tf.constant([0, op_seed], tf.uint64), alg=1, dtype=dtype,
        )  # fmt: skip

    def uniform(self: Any, shape: Any, low: float = 0.0, high: float = 1.0) -> Any:
        dtype = self.raw.dtype
        low_t, high_t = tf.constant(low, dtype), tf.constant(high, dtype)
        raw = philox(tf.raw_ops.StatelessRandomUniformV2, shape, dtype)
        return type(self)(tf.add(raw * (high_t - low_t), low_t))

    def normal(self: Any, shape: Any, mean: float = 0.0, stddev: float = 1.0) -> Any:
        dtype = self.raw.dtype
        raw = philox(tf.raw_ops.StatelessRandomNormalV2, shape, dtype)
        return type(self)(tf.add(raw * tf.constant(stddev, dtype), tf.constant(mean, dtype)))

    saved = TensorFlowTensor.uniform, TensorFlowTensor.normal
    TensorFlowTensor.uniform, TensorFlowTensor.normal = uniform, normal  # type: ignore[method-assign]
    try:
        with _seeded_numpy_draws(seed):
            yield
    finally:
        TensorFlowTensor.uniform, TensorFlowTensor.normal = saved  # type: ignore[method-assign]


@contextmanager
def _seeded_numpy_draws(seed: int) -> Iterator[None]:
    """eagerpy's NumPy draws from a ``RandomState`` of the seed, not ``np.random``'s global
    stream (which stays untouched): the numbers ``np.random.seed(seed)`` would give (seeds
    of 32 bits; longer ones seed from their two halves). Decision-based attacks on models
    without gradients run on NumPy arrays."""
    from eagerpy.tensor.numpy import NumPyTensor

    seed = int(seed)
    generator = np.random.RandomState(seed if seed < 2**32 else [seed % 2**32, seed >> 32])

    def uniform(self: Any, shape: Any, low: float = 0.0, high: float = 1.0) -> Any:
        return type(self)(generator.uniform(low, high, size=shape))

    def normal(self: Any, shape: Any, mean: float = 0.0, stddev: float = 1.0) -> Any:
        return type(self)(generator.normal(mean, stddev, size=shape))

    saved = NumPyTensor.uniform, NumPyTensor.normal
    NumPyTensor.uniform, NumPyTensor.normal = uniform, normal  # type: ignore[method-assign]
    try:
        yield
    finally:
        NumPyTensor.uniform, NumPyTensor.normal = saved  # type: ignore[method-assign]


def is_differentiable(adapter: Adapter) -> bool:
    """Whether foolbox can take this model's gradients (Keras and TensorFlow models)."""
    from pytest_modelguard.adapters.keras import KerasAdapter
    from pytest_modelguard.adapters.tensorflow import TensorFlowAdapter

    return isinstance(adapter, KerasAdapter | TensorFlowAdapter)


def resolve(
    adapter: Adapter, attack: str | None, norm: str | None, steps: int | None, restarts: int
) -> tuple[AttackSpec, str, int | None]:
    """Validate an attack request against the model: the spec, the norm and the steps to use.

    The default attack is ``pgd`` for models with gradients and ``hopskipjump`` (decision
    based) for the others, both in ``linf`` unless ``norm=`` says otherwise: a model without
    gradients is never measured in another norm than the one its eps was given in.
    """
    differentiable = is_differentiable(adapter)
    name = attack if attack is not None else ("pgd" if differentiable else DECISION_DEFAULT)
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
        chosen = (
            f"the default attack for {adapter.name}, which has no gradients, is {name!r} "
            "(decisions only); it"
            if attack is None and not differentiable
            else f"attack={name!r}"
        )
        raise GateError(
            f"{chosen} works in norm={allowed}, not norm={norm!r}: give one of those norms "
            "(and eps in it), or a model with gradients"
        )
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
        return deepfool(steps=steps, **{"candidates": min(10, n_classes), **options})
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
    starting_points: np.ndarray | None = None,
) -> AttackRun:
    """Attack rows ``x`` (float32, inside ``[low, high]``) whose true class indices are ``labels``,
    with a request :func:`resolve` accepted.

    ``classes`` are the classes of the model's score columns (for a model returning labels,
    the labels it may return). Scalar bounds attack in input space; per-feature bounds
    (arrays) attack in unit space, ``x = low + u * (high - low)``, so eps is a fraction of
    each feature's range. With ``restarts`` > 1 a row counts as broken when any run breaks it.
    An eps of None asks a minimum-norm attack for its unbounded result. ``starting_points``
    (input space, misclassified) spare a decision-based attack its search for a start.
    Random draws are those of ``tf.random.set_seed(seed)`` (:func:`seeded_draws`), or of
    a NumPy generator of the seed for a model without gradients (run on NumPy arrays).
    """
    fb = load_foolbox()
    import tensorflow as tf

    space = Space.of(x, low, high, attack, eps)
    if compiled is None and attack in DECISION_BASED:
        compiled = {}  # hundreds of calls: the model as one concrete function for this attack
    fmodel, note, n_classes = foolbox_model(
        fb, adapter, space, output_kind, classes, columns, compiled, attack in DECISION_BASED
    )
    seed = tf_seed(seed)
    on_numpy = isinstance(fmodel, fb.NumPyModel)  # eager TensorFlow ops would cost ~4x
    as_array = _array_maker(on_numpy)
    images, targets = as_array(space.inputs, np.float32), as_array(labels, np.int64)
    clean = require_deterministic(adapter, fmodel, images)
    instance = build_attack(fb, attack, norm, steps, n_classes, options)
    success = np.zeros((len(space.eps), len(labels)), dtype=bool)
    attacked = np.arange(len(labels))
    points, extra = None, {}
    if starting_points is not None:
        extra["starting_points"] = as_array(space.to_space(starting_points), np.float32)
    try:
        if attack in DECISION_BASED:
            # these start from a misclassified input; a row the model already gets wrong
            # starts at itself and foolbox divides by that zero distance (NaN inputs reach
            # the model): such rows count as broken, as foolbox counts them, unattacked
            wrong = clean.argmax(axis=1) != labels
            success[:, wrong] = True
            attacked = np.flatnonzero(~wrong)
            take = (lambda a: a[attacked]) if on_numpy else (lambda a: tf.gather(a, attacked))
            with tf.device(DEVICE):
                images, targets = take(images), take(targets)
                if extra:
                    extra["starting_points"] = take(extra["starting_points"])
        with seeded_draws(seed):
            for _ in range(restarts if len(attacked) else 0):
                _, inputs, found = instance(
                    fmodel, images, targets, epsilons=list(space.eps), **extra
                )
                success[:, attacked] |= np.asarray(found, dtype=bool)
                if restarts == 1 and len(attacked) == len(labels):
                    points = space.from_space(np.asarray(inputs[-1]))
                if success.all():
                    break
    except GateError:
        raise
    except Exception as exc:
        raise attack_error(attack, adapter, exc) from exc
    return AttackRun(success=success, logits=note, seed=seed, points=points)


def require_deterministic(adapter: Adapter, fmodel: Any, images: Any) -> np.ndarray:
    """Two passes over the same rows must agree: an attack on a model that is random at
    inference counts a row broken when noise alone flips it (robust accuracy 0.0 where the
    model's own is 0.48, measured), and no figure of such a model means anything. Returns
    the first pass's outputs, the rows' clean scores."""
    first, second = (np.asarray(fmodel(images), dtype=np.float64) for _ in range(2))
    gap = float(np.max(np.abs(first - second), initial=0.0))
    if not np.isfinite(gap) or gap > 1e-4 * (1.0 + float(np.max(np.abs(first), initial=0.0))):
        raise GateError(
            f"{adapter.name} gives different outputs for the same rows on two passes (by up to "
            f"{gap:.3g}): it is random at inference (dropout or noise run with training=True, "
            "sampling), so an attack cannot tell a broken row from noise and robust accuracy is "
            "not defined. Make predictions deterministic (training=False, fixed randomness), "
            "or average the randomness inside the model and attack that"
        )
    return first


def _array_maker(on_numpy: bool) -> Callable[[Any, Any], Any]:
    """How an attack's inputs are made: NumPy arrays for a NumPyModel, else TF tensors."""
    if on_numpy:
        return lambda value, dtype: np.asarray(value, dtype=dtype)
    import tensorflow as tf

    def tensor(value: Any, dtype: Any) -> Any:
        with tf.device(DEVICE):
            return tf.constant(value, dtype=tf.as_dtype(dtype))

    return tensor


@dataclass(frozen=True)
class Space:
    """Where an attack runs: input space for scalar bounds, else unit space
    ``x = low + u * (high - low)`` with eps a fraction of each feature's range.

    foolbox's HopSkipJump clips to [0, 1] whatever the model's bounds (it loops forever on
    inputs outside them): it always runs in unit space, with eps scaled to match.
    """

    inputs: np.ndarray
    box: tuple[float, float]
    eps: list[float | None]
    unit: bool
    low: Any  # float32 offset and span of the unit map (unused in input space)
    span: Any

    @classmethod
    def of(cls, x: np.ndarray, low: Any, high: Any, attack: str, eps: list[float | None]) -> Space:
        per_feature = np.ndim(low) > 0
        unit = per_feature or (attack == "hopskipjump" and (float(low), float(high)) != (0.0, 1.0))
        if not unit:
            return cls(x, (float(low), float(high)), list(eps), False, None, None)
        low32 = np.asarray(low, dtype=np.float32)
        span = np.asarray(high, dtype=np.float32) - low32
        safe = np.where(span > 0, span, 1).astype(np.float32)
        inputs = np.where(span > 0, (x - low32) / safe, 0).astype(np.float32)
        if not per_feature:
            eps = [None if e is None else e / float(span) for e in eps]
        return cls(inputs, (0.0, 1.0), list(eps), True, low32, span)

    def to_space(self, x: np.ndarray) -> np.ndarray:
        if not self.unit:
            return np.asarray(x, dtype=np.float32)
        safe = np.where(self.span > 0, self.span, 1).astype(np.float32)
        return np.where(self.span > 0, (x - self.low) / safe, 0).astype(np.float32)

    def from_space(self, u: np.ndarray) -> np.ndarray:
        return u if not self.unit else (self.low + u * self.span).astype(np.float32)


def foolbox_model(
    fb: Any,
    adapter: Adapter,
    space: Space,
    output_kind: str,
    classes: np.ndarray,
    columns: list[str] | None,
    compiled: dict[Any, Any] | None = None,
    decisions_only: bool = False,
) -> tuple[Any, str, int]:
    """The foolbox model of ``adapter`` in ``space``: its logits note and score columns.

    ``compiled`` caches the model as one ``tf.function`` per space for an ensemble's many
    calls (no eager cost per call)."""
    if is_differentiable(adapter):
        call, note = tf_model_function(adapter, space, output_kind, compiled)
        if decisions_only:
            return fb.NumPyModel(_numpy_call(call), bounds=space.box), note, max(len(classes), 2)
        fmodel = fb.TensorFlowModel(call, bounds=space.box, device=DEVICE)
        return fmodel, note, max(len(classes), 2)
    low32, span = space.low, space.span
    scale = (lambda u: low32 + u * span) if space.unit else (lambda u: u)
    function, note = _numpy_logits(adapter, output_kind, classes, scale, columns)
    return fb.NumPyModel(function, bounds=space.box), note, function.n_classes


def tf_model_function(
    adapter: Adapter, space: Space, output_kind: str, compiled: dict[Any, Any] | None = None
) -> tuple[Callable[[Any], Any], str]:
    """The differentiable logits of a Keras/TensorFlow model in ``space`` (compiled once per
    space and row shape when ``compiled`` is a cache).

    The compiled form is a concrete function for any number of rows: a call costs ~0.2 ms,
    a ``tf.function``'s ~0.8 ms (it matches its arguments against its traces first), and
    the decision-based attacks and DeepFool call the model hundreds of times."""
    import tensorflow as tf

    base, note = _tf_logits(adapter, output_kind)
    low32, span = space.low, space.span
    call = base if not space.unit else (lambda t: base(low32 + t * span))
    if compiled is not None:
        shape = tuple(space.inputs.shape[1:])
        key = ("model", output_kind, space.unit, _bytes(low32), _bytes(span), shape)
        if key not in compiled:
            spec = tf.TensorSpec((None, *shape), tf.float32)
            compiled[key] = _traced(call, spec)
        call = compiled[key]
    return call, note


def _in_graph(adapter: Adapter, graph: Callable[..., Any]) -> Callable[..., Any]:
    """The compiled PGD loop, whose tracing failure says what to change."""

    def run(*args: Any) -> Any:
        try:
            return graph(*args)
        except Exception as exc:
            raise GateError(
                f"the attack ensemble runs PGD as one TensorFlow graph, and {adapter.name} "
                f"failed in it ({type(exc).__name__}: {exc}). If the model cannot be traced "
                "(NumPy inside its call), make it use TensorFlow ops only, or choose one "
                "attack, attack='hopskipjump'; if the batch of stacked runs is too large, "
                "attack fewer rows (samples=)"
            ) from exc

    return run


def _traced(call: Callable[[Any], Any], spec: Any) -> Callable[[Any], Any]:
    """``call`` as a concrete function, or ``call`` itself (eager) when it cannot be traced
    into a graph (a ``tf.Module`` that steps through NumPy): slower, not wrong."""
    import tensorflow as tf

    try:
        return tf.function(call).get_concrete_function(spec)
    except Exception:  # any tracing failure: the eager call still computes the same outputs
        return call


def _numpy_call(call: Callable[[Any], Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A TensorFlow model function on NumPy arrays: decision-based attacks need no
    gradients, and foolbox's NumPy arithmetic costs a fraction of eager TensorFlow's."""
    import tensorflow as tf

    def on_arrays(rows: np.ndarray) -> np.ndarray:
        with tf.device(DEVICE):
            return np.asarray(call(tf.constant(rows, tf.float32)))

    return on_arrays


def _bytes(array: Any) -> bytes | None:
    return None if array is None else np.asarray(array).tobytes()


_GRAPHS: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def model_graphs(adapter: Adapter) -> dict[Any, Any]:
    """The cache of a model's compiled functions (its logits, PGD loops): traced once per
    model and space, reused by every gate that attacks the same model, dropped with it."""
    try:
        return _GRAPHS.setdefault(adapter.model, {})
    except TypeError:  # not weakly referenceable: a cache for this call only
        return {}


def attack_error(attack: str, adapter: Adapter, exc: Exception) -> GateError:
    """What went wrong in a foolbox attack, and what to change."""
    text = f"{type(exc).__name__}: {exc}"
    if attack in DECISION_BASED and "init_attack failed" in str(exc):
        return GateError(
            f"the {attack} attack on {adapter.name} found no misclassified starting point "
            f"for some rows (foolbox: {text}). A decision-based attack starts from an input the "
            "model already gets wrong, found by blending in uniform noise; a model whose "
            "predictions change from call to call (dropout or noise at inference, random "
            "preprocessing), or one that predicts the same class for any noise, gives it none. "
            "Make predictions deterministic (call the model with training=False, fix its "
            "randomness), or attack with attack='noise' or, for a Keras/TensorFlow model, a "
            "gradient attack"
        )
    if attack in DECISION_BASED and isinstance(exc, AssertionError):
        return GateError(
            f"the {attack} attack on {adapter.name} failed one of foolbox's internal checks "
            f"({text}). Most often a point it had seen misclassified was classified right on "
            "a later call: a model whose outputs vary slightly from call to call (noise at "
            "inference below the gate's determinism check) does this; make predictions "
            "deterministic"
        )
    return GateError(f"the {attack} attack on {adapter.name} raised {text}")


# -- a model and dataset made ready for attacks ---------------------------------------------


@dataclass(frozen=True)
class Target:
    """A classifier and its data as every attacking gate needs them: float32 inputs, each
    row's true class index, clean correctness, the input box and the model's score columns."""

    adapter: Adapter
    x: np.ndarray
    truth: np.ndarray
    correct: np.ndarray
    classes: np.ndarray
    output_kind: str
    low: float | np.ndarray
    high: float | np.ndarray
    bounds_evidence: dict[str, Any]
    columns: list[str] | None


def target_of(
    adapter: Adapter, dataset: Any, bounds: Any, epsilons: list[float], norm: str
) -> Target:
    """Predict once (cached), validate the bounds and that eps fits inside them."""
    from pytest_modelguard.adapters.keras import as_float32
    from pytest_modelguard.checks.robustness import clean_rows

    x = as_float32(dataset)
    output = adapter.outputs(dataset)  # cached: clean predictions cost no extra pass
    classes, truth, correct = clean_rows(output, dataset.target)
    low, high, evidence = attack_bounds(dataset, bounds, x)
    check_eps(epsilons, norm, low, high, x[0].size)
    named = dataset.is_dataframe or (adapter.needs_column_names and dataset.feature_names)
    columns = [str(c) for c in dataset.feature_names] if named else None
    return Target(adapter, x, truth, correct, classes, output.kind, low, high, evidence, columns)


def attack_target(
    target: Target,
    rows: np.ndarray,
    *,
    attack: str,
    norm: str,
    eps: list[float],
    steps: int | None,
    restarts: int,
    seed: int,
) -> AttackRun:
    """One attack :func:`resolve` accepted, on the rows ``rows`` of ``target``."""
    return run_attack(
        target.adapter, target.x[rows], target.truth[rows], attack=attack, norm=norm, eps=eps,
        steps=steps, restarts=restarts, seed=seed, low=target.low, high=target.high,
        output_kind=target.output_kind, classes=target.classes, columns=target.columns,
    )  # fmt: skip


# -- the worst-case ensemble ----------------------------------------------------------------

#: the compiled PGD runs after ``attack="pgd"``: each restart is a sweep of one untargeted
#: cross-entropy run and targeted margin runs (AutoAttack's APGD-T idea) toward the
#: :data:`TARGETS` most likely other classes, all with a step size that decays from the
#: restart's (a fraction of eps, in turn from this schedule) to 1% of it
PGD_SCHEDULE = (1.0, 0.25, 0.5, 2.0, 0.1)
TARGETS = 3
#: HopSkipJump's gradient estimates, smaller than foolbox's defaults (100 to 10,000 model
#: calls a step): it only has to show that the gradient attacks missed something obvious
HOPSKIPJUMP_BUDGET = {"initial_gradient_eval_steps": 10, "max_gradient_eval_steps": 30}
MIN_NORM = "deepfool"  # the minimum-norm attack: one run answers every eps, and None
#: DeepFool linearises toward the 4 most likely classes (foolbox: 10), a gradient each per
#: step; the targeted PGD runs already pushed toward the top 3
MIN_NORM_OPTIONS = {"candidates": 4}
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
        order = np.argsort(eps, kind="stable")  # eps may be given in any order
        accuracy = (1.0 - self.raw_success.mean(axis=1))[order]
        for i in range(1, len(eps)):
            rise = float(accuracy[i] - accuracy[:i].min())
            if rise > MONOTONE_SLACK:
                problems.append(
                    f"robust accuracy rises with eps ({accuracy[:i].min():.3g} at a smaller eps, "
                    f"{accuracy[i]:.3g} at eps={eps[order[i]]:g}): a larger budget found less, "
                    "so the attacks did not converge"
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
    """Attack rows with ``attack="pgd"``, then ``restarts - 1`` sweeps of compiled PGD runs
    (:data:`PGD_SCHEDULE`), then DeepFool (minimum norm, also unbounded), then HopSkipJump
    (decisions only) on the rows still standing; a row is robust only if all of them fail.

    Each attack after the first sees only the rows the earlier ones left standing. The
    first run is ``attack="pgd"`` on every row, exactly (same rows, seed and step size), so
    the ensemble never finds less. ``clean`` marks the rows the model classifies right;
    only they are counted and attacked after the first run.
    """
    ensemble = _Ensemble(
        adapter, x, labels, norm=norm, eps=eps, steps=steps, seed=seed, clean=clean,
        common=dict(low=low, high=high, output_kind=output_kind, classes=classes,
                    columns=columns),
    )  # fmt: skip
    ensemble.first_pgd()
    ensemble.success[:, ~ensemble.clean] = True  # misclassified already: nothing to attack
    ensemble.compiled_pgd(restarts - 1)
    ensemble.minimum_norm()
    if decision_steps:
        ensemble.decision_based(decision_steps)
    return ensemble.result()


class _Ensemble:
    """The state of one ensemble run: rows broken so far, and who broke them."""

    def __init__(self, adapter: Adapter, x: np.ndarray, labels: np.ndarray, *, norm: str,
                 eps: list[float], steps: int, seed: int, clean: np.ndarray | None,
                 common: dict[str, Any]) -> None:  # fmt: skip
        n = len(labels)
        self.adapter, self.x, self.labels, self.norm = adapter, x, labels, norm
        self.eps, self.steps, self.seed, self.common = eps, steps, seed, common
        self.clean = np.ones(n, dtype=bool) if clean is None else np.asarray(clean, dtype=bool)
        self.success = np.zeros((len(eps), n), dtype=bool)
        self.unbounded = np.zeros(n, dtype=bool)
        self.decision_only = [0] * len(eps)
        self.broke_first: dict[str, list[int]] = {}
        self.runs: list[dict[str, Any]] = []
        self.seconds: dict[str, float] = {}
        # the model as tf.functions, traced once per model; not kept across gates when its
        # logits come from a rebuilt last layer (a copy of its weights at tracing time)
        logits = common["output_kind"] == "logits"
        self.graphs = model_graphs(adapter) if logits else {}
        self.note = ""
        self.starts: np.ndarray | None = None  # DeepFool's unbounded adversarial inputs

    def foolbox(
        self, name: str, rows: np.ndarray, eps: list[float | None], eager: bool = False, **kw: Any
    ) -> Any:
        """A foolbox attack (:func:`run_attack`) on ``rows``: found, ``(len(eps), n)``; on the
        compiled model unless ``eager``."""
        started = time.perf_counter()
        found = np.zeros((len(eps), len(self.labels)), dtype=bool)
        if len(rows):
            run = run_attack(
                self.adapter, self.x[rows], self.labels[rows], attack=name, norm=self.norm,
                eps=eps, restarts=1, seed=self.seed, compiled=None if eager else self.graphs,
                **self.common, **kw,
            )  # fmt: skip
            found[:, rows] = run.success
            self.note = run.logits
            if name == MIN_NORM and run.points is not None:
                self.starts = np.zeros_like(self.x)
                self.starts[rows] = run.points
        self._clock(name, started)
        return found

    def _clock(self, name: str, started: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def credit(self, name: str, found: np.ndarray, **run: Any) -> None:
        """Rows ``found`` broke that no earlier attack had, counted for ``name``."""
        new = found & ~self.success & self.clean
        counts = self.broke_first.setdefault(name, [0] * len(self.eps))
        for i in range(len(self.eps)):
            counts[i] += int(new[i].sum())
        broke = (found & self.clean).sum(axis=1).tolist()
        self.runs.append({"attack": name, **run, "broke": broke})
        self.success |= found

    def standing(self, i: int | None = None) -> np.ndarray:
        """Rows not yet broken at eps ``i`` (at some eps when None)."""
        left = ~self.success[i] if i is not None else ~self.success.all(axis=0)
        return np.flatnonzero(left)

    def first_pgd(self) -> None:
        """``attack="pgd"`` itself, on every row and every eps in one call, eager."""
        rows = np.arange(len(self.labels))
        found = self.foolbox("pgd", rows, list(self.eps), eager=True, steps=self.steps)
        self.credit("pgd", found, rel_stepsize=round(0.01 / 0.3, 4), steps=self.steps,
                    rows=len(rows))  # fmt: skip
        self.unbounded |= found.any(axis=0)

    def compiled_pgd(self, sweeps: int) -> None:
        """``sweeps`` restarts, each an untargeted cross-entropy run and targeted margin runs
        toward the :data:`TARGETS` most likely other classes, at the restart's step size
        (:data:`PGD_SCHEDULE`): every run on every row still standing stacks into one batch,
        one TensorFlow graph call per eps."""
        if sweeps < 1:
            return
        started = time.perf_counter()
        space = Space.of(self.x, self.common["low"], self.common["high"], "pgd", self.eps)
        call, self.note = tf_model_function(
            self.adapter, space, self.common["output_kind"], self.graphs
        )
        ranked = self._ranked_classes(call, space)
        goals = [self.labels] + [ranked[:, k] for k in range(min(TARGETS, ranked.shape[1]))]
        rels = [PGD_SCHEDULE[r % len(PGD_SCHEDULE)] for r in range(sweeps)]
        runs = [(rel, k) for rel in rels for k in range(len(goals))]
        graph = _in_graph(self.adapter, self._graph(call, space.box))
        found = np.zeros((len(runs), *self.success.shape), dtype=bool)
        for i, e in enumerate(space.eps):
            rows = self.standing(i)
            if not len(rows):
                continue
            broken = graph(
                np.tile(space.inputs[rows], (len(runs),) + (1,) * (self.x.ndim - 1)),
                np.tile(self.labels[rows], len(runs)),
                np.concatenate([goals[k][rows] for _, k in runs]),
                e, np.repeat([rel * e for rel, _ in runs], len(rows)), self.steps,
                tf_seed(self.seed) + 1,
            )  # fmt: skip
            found[:, i, rows] = broken.reshape(len(runs), len(rows))
        self._clock("pgd_compiled", started)
        standing = int(max(len(self.standing(i)) for i in range(len(self.eps))))
        for (rel, k), run in zip(runs, found, strict=True):
            loss = "ce" if k == 0 else f"targeted (class ranked {k})"
            self.credit("pgd" if k == 0 else "pgd_targeted", run, loss=loss,
                        rel_stepsize=rel, steps=self.steps, rows=standing)  # fmt: skip
            self.unbounded |= run.any(axis=0)

    def _graph(self, call: Any, box: tuple[float, float]) -> Any:
        key = ("pgd", self.note, self.norm, box, _bytes(self.common["low"]),
               _bytes(self.common["high"]))  # fmt: skip
        if key not in self.graphs:
            self.graphs[key] = pgd_graph(call, norm=self.norm, box=box)
        return self.graphs[key]

    def _ranked_classes(self, call: Any, space: Space) -> np.ndarray:
        """Per row, the other classes from most to least likely at the clean input."""
        import tensorflow as tf

        with tf.device(DEVICE):
            z = np.array(call(tf.constant(space.inputs, tf.float32)), dtype=np.float64)
        z[np.arange(len(z)), self.labels] = -np.inf
        return np.argsort(-z, axis=1, kind="stable")[:, : z.shape[1] - 1].astype(np.int64)

    def minimum_norm(self) -> None:
        """DeepFool on the rows left: every eps, and unbounded for the masking check."""
        rows = self.standing()
        found = self.foolbox(
            MIN_NORM, rows, [*self.eps, None], steps=self.steps, options=MIN_NORM_OPTIONS
        )
        self.unbounded |= found[-1]
        self.credit(MIN_NORM, found[:-1], steps=self.steps, rows=len(rows),
                    broke_unbounded=int(found[-1].sum()))  # fmt: skip

    def decision_based(self, steps: int) -> None:
        """HopSkipJump (no gradients) on the rows every gradient attack left standing."""
        rows = self.standing()
        # HopSkipJump starts from DeepFool's unbounded inputs where every row has one (any
        # misclassified input will do; the walk to the boundary uses decisions only), else
        # from foolbox's blended-noise search
        starts = None
        if self.starts is not None and self.unbounded[rows].all():
            starts = self.starts[rows]
        options = dict(steps=steps, options=HOPSKIPJUMP_BUDGET)
        try:
            found = self.foolbox("hopskipjump", rows, list(self.eps), **options,
                                 starting_points=starts)  # fmt: skip
        except GateError:
            if starts is None:
                raise
            # a start DeepFool found is no longer misclassified (float round-off on a
            # boundary): start from foolbox's own search instead
            found = self.foolbox("hopskipjump", rows, list(self.eps), **options)
        self.decision_only = [int(v) for v in (found & ~self.success).sum(axis=1)]
        self.credit("hopskipjump", found, steps=steps, rows=len(rows))

    def result(self) -> EnsembleRun:
        raw = self.success.copy()
        success = self.success.copy()
        # an input that breaks a row within eps also lies within every larger eps
        order = np.argsort(self.eps, kind="stable")
        success[order] = np.logical_or.accumulate(success[order], axis=0)
        clean = self.clean
        return EnsembleRun(
            success=success,
            raw_success=raw,
            broke_first=self.broke_first,
            runs=self.runs,
            unbounded_success=float(self.unbounded[clean].mean()) if clean.any() else 1.0,
            decision_only=self.decision_only,
            clean_rows=int(clean.sum()),
            seconds={k: round(v, 3) for k, v in self.seconds.items()},
            logits=self.note,
            seed=tf_seed(self.seed),
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
    A last layer that is itself a model (its softmax inside), has no ``activation`` to
    switch off, or is not what the model returns (ops after it) cannot be rebuilt this way:
    None, so the caller takes log-probabilities.
    """
    from pytest_modelguard.adapters.keras import output_layer

    last = output_layer(model)
    if last is None or not getattr(model, "inputs", None):
        return None  # ops after the last layer: only the model's own outputs are the model
    try:
        import keras

        if model.outputs[0] is not last.output:  # a reused layer: its first use's input
            return None
        features = last.input
        if type(last).__name__ == "Softmax":
            return keras.Model(model.inputs, features)
        if isinstance(last, keras.Model) or "activation" not in last.get_config():
            return None  # a nested model or an activation-free layer: the clone stays a softmax
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


# -- PGD as one TensorFlow graph -------------------------------------------------------------


def _per_row(v: Any, like: Any) -> Any:
    """A per-row vector shaped to broadcast over a batch like ``like``."""
    import tensorflow as tf

    return tf.reshape(v, [-1] + [1] * (like.shape.rank - 1))


def _row_norms(v: Any) -> Any:
    import tensorflow as tf

    return tf.sqrt(tf.reduce_sum(tf.reshape(v * v, [tf.shape(v)[0], -1]), axis=1))


def _pgd_loss(z: Any, y: Any, t: Any) -> Any:
    """Per-row loss PGD ascends: cross-entropy where the target ``t`` is the true class
    (untargeted), else the target's logit minus the true one (targeted margin)."""
    import tensorflow as tf

    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
    true = tf.gather(z, y, axis=1, batch_dims=1)
    margin = tf.gather(z, t, axis=1, batch_dims=1) - true
    return tf.where(t == y, ce, margin)


def _pgd_signature(shape: tuple[int, ...]) -> list[Any]:
    """Inputs of the PGD graph: rows, labels, targets, eps, steps per row, steps, seed."""
    import tensorflow as tf

    rows = tf.TensorSpec((None,), tf.int64)
    return [
        tf.TensorSpec((None, *shape), tf.float32), rows, rows, tf.TensorSpec((), tf.float32),
        tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.int32),
        tf.TensorSpec((2,), tf.int64),
    ]  # fmt: skip


def pgd_graph(call: Callable[[Any], Any], *, norm: str, box: tuple[float, float]) -> Any:
    """PGD (Madry et al.) as one ``tf.function``: ``(x0, labels, targets, eps, steps per
    row, steps, seed) -> broken``, a bool per row.

    The loop runs in the graph, not step by step through eagerpy, so a run costs about
    ``steps`` forward and backward passes, and many runs (restarts, targets) stack as
    rows of one batch. A row counts as broken as soon as an iterate (always inside the
    eps-ball and the bounds) is misclassified, and stops moving there. A row whose target
    is its label ascends the cross-entropy (foolbox's PGD); any other ascends the target's
    logit minus the true one, the direction of AutoAttack's targeted DLR loss (sign and
    L2-normalised steps are scale-free). Starts are uniform in the ball, as foolbox's; a
    row's step decays geometrically to 1% of its start over the run.
    """
    import tensorflow as tf

    low, high = box
    linf = norm == "linf"

    def start(x0: Any, eps: Any, seed: Any) -> Any:
        if linf:
            return x0 + tf.random.stateless_uniform(tf.shape(x0), seed, -1.0, 1.0) * eps
        d = tf.random.stateless_normal(tf.shape(x0), seed)
        dims = tf.cast(tf.reduce_prod(tf.shape(x0)[1:]), tf.float32)
        r = tf.random.stateless_uniform(tf.shape(x0)[:1], seed + 1) ** (1.0 / dims)
        return x0 + d * _per_row(r * eps / (_row_norms(d) + 1e-12), x0)

    def project(x: Any, x0: Any, eps: Any) -> Any:
        d = x - x0
        if linf:
            d = tf.clip_by_value(d, -eps, eps)
        else:
            d = d * _per_row(tf.minimum(1.0, eps / (_row_norms(d) + 1e-12)), x0)
        return tf.clip_by_value(x0 + d, low, high)

    def wrong(x: Any, y: Any) -> Any:
        return tf.argmax(tf.cast(call(x), tf.float32), axis=1, output_type=tf.int64) != y

    def run(x0: Any, y: Any, t: Any, eps: Any, step: Any, steps: Any, seed: Any) -> Any:
        x = project(start(x0, eps, seed), x0, eps)
        broken = tf.zeros(tf.shape(y), tf.bool)
        decay = tf.pow(0.01, 1.0 / tf.cast(tf.maximum(steps - 1, 1), tf.float32))
        step = _per_row(step, x0)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(x)
                z = tf.cast(call(x), tf.float32)
                value = tf.reduce_sum(_pgd_loss(z, y, t))
            broken = broken | (tf.argmax(z, axis=1, output_type=tf.int64) != y)
            if tf.reduce_all(broken):
                break
            g = tape.gradient(value, x)
            g = tf.sign(g) if linf else g / _per_row(_row_norms(g) + 1e-12, g)
            x = tf.where(_per_row(broken, x), x, project(x + g * step, x0, eps))
            step = step * decay
        return broken | wrong(x, y)

    graphs: dict[tuple[int, ...], Any] = {}

    def compiled(
        x0: np.ndarray, y: np.ndarray, t: np.ndarray, eps: float, step: np.ndarray,
        steps: int, seed: int,
    ) -> np.ndarray:  # fmt: skip
        shape = tuple(x0.shape[1:])
        if shape not in graphs:
            graphs[shape] = tf.function(run, input_signature=_pgd_signature(shape))
        with tf.device(DEVICE):
            broken = graphs[shape](
                tf.constant(x0, tf.float32), tf.constant(y, tf.int64), tf.constant(t, tf.int64),
                np.float32(eps), tf.constant(step, tf.float32), np.int32(steps),
                tf.constant([seed % 2**62, 12], tf.int64),
            )  # fmt: skip
        return np.asarray(broken.numpy(), dtype=bool)

    return compiled
