"""Public checkers for plug-ins, like scikit-learn's ``check_estimator``.

Each seam's contract, run on small data: a third party calls the checker on
its plug-in in its own tests, and mlsteward runs the same checkers over every
built-in (``tests/contract``). A checker raises ``AssertionError`` whose
message names the plug-in, the rule it broke and what was seen.

Example:
    >>> from mlsteward.plugin_checks import check_trainer
    >>> from mlsteward.retraining.trainers import logistic_scorecard
    >>> check_trainer(logistic_scorecard)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.context import Context
from mlsteward.errors import InvalidInput, MlstewardError, UnsafeArtifact
from mlsteward.flavors import Flavor, flavor_for

__all__ = [
    "FLAVOR_CHECKS",
    "FlavorCheck",
    "check_flavor",
    "check_job_handler",
    "check_sink",
    "check_trainer",
    "sample_alert",
    "sample_frame",
]

FlavorCheck = Callable[[Flavor, Any, pd.DataFrame], None]


def _who(obj: object) -> str:
    name = getattr(obj, "name", None) or getattr(obj, "__qualname__", None)
    return repr(name or type(obj).__qualname__)


def _fail(what: object, rule: str, seen: object) -> AssertionError:
    if isinstance(seen, BaseException):
        seen = f"{type(seen).__name__}: {seen}"
    return AssertionError(f"{_who(what)} breaks the contract: {rule}; got {seen}")


# -- flavors ------------------------------------------------------------------
def check_declares_itself(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """A Flavor subclass with a name and a ``.ext`` extension."""
    if not isinstance(flavor, Flavor):
        raise _fail(
            flavor, "a flavor subclasses mlsteward.flavors.Flavor", type(flavor)
        )
    if not isinstance(flavor.name, str) or not flavor.name:
        raise _fail(flavor, "name is a non-empty string", flavor.name)
    ext = flavor.extension
    if not (isinstance(ext, str) and ext.startswith(".")):
        raise _fail(flavor, "extension starts with '.'", ext)
    if flavor.file_extension() != ext:
        raise _fail(
            flavor, "file_extension() returns extension", flavor.file_extension()
        )


def check_saves_bytes(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """It can save the model, to non-empty bytes."""
    if not flavor.can_save(model):
        raise _fail(flavor, "can_save(model) is true for its own model", False)
    data = flavor.save(model)
    if not isinstance(data, bytes) or not data:
        raise _fail(flavor, "save() returns non-empty bytes", type(data))


def check_round_trip(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """load(save(model)) scores exactly like the model."""
    loaded = flavor.load(flavor.save(model))
    got = flavor.predict_proba(loaded, X)
    expected = flavor.predict_proba(model, X)
    try:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    except AssertionError as exc:
        raise _fail(flavor, "the loaded model scores as the saved one", exc) from None


def check_probabilities(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """One float64 probability in [0, 1] per row; an empty frame gives (0,)."""
    proba = flavor.predict_proba(model, X)
    if not (isinstance(proba, np.ndarray) and proba.dtype == np.float64):
        raise _fail(flavor, "predict_proba returns a float64 array", type(proba))
    if proba.shape != (len(X),):
        raise _fail(flavor, f"predict_proba has shape ({len(X)},)", proba.shape)
    if not ((proba >= 0) & (proba <= 1)).all():
        raise _fail(flavor, "probabilities are within [0, 1]", proba.min())
    if len(X) > 1 and len(np.unique(proba)) < 2:
        raise _fail(flavor, "the model separates rows (scores differ)", proba[:3])
    empty = flavor.predict_proba(model, X.iloc[:0])
    if getattr(empty, "shape", None) != (0,) or empty.dtype != np.float64:
        raise _fail(flavor, "an empty frame gives a float64 array of shape (0,)", empty)


def check_missing_column(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """A frame without one of the model's columns is InvalidInput."""
    loaded = flavor.load(flavor.save(model))
    column = X.columns[0]
    try:
        flavor.predict_proba(loaded, X.drop(columns=[column]))
    except InvalidInput:
        return
    except Exception as exc:
        raise _fail(
            flavor, f"a missing column {column!r} is InvalidInput", exc
        ) from exc
    raise _fail(flavor, f"a missing column {column!r} is InvalidInput", "scores")


def _zip(members: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return out.getvalue()


def garbage(flavor: Flavor, model: Any) -> dict[str, Any]:
    """Bytes (and one non-bytes value) that no flavor may load."""
    data = flavor.save(model)
    return {
        "empty": b"",
        "text": b"this is not a model",
        "random": np.random.default_rng(1).bytes(4096),
        "truncated": data[: len(data) // 2],
        "zip-without-schema": _zip({"model.bin": b"\x00" * 64}),
        "zip-with-junk-schema": _zip({"schema.json": b"{not json"}),
        "pickle": pickle.dumps(model),
        "not-bytes": "a string",
    }


def check_refuses_garbage(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """Garbage is a mlsteward error; pickle is UnsafeArtifact; a str InvalidInput."""
    expected = {"pickle": UnsafeArtifact, "not-bytes": InvalidInput}
    for kind, data in garbage(flavor, model).items():
        wanted = expected.get(kind, MlstewardError)
        try:
            flavor.load(data)
        except wanted as exc:
            if not exc.message:
                raise _fail(flavor, f"refusing {kind} says why", exc) from exc
            continue
        except Exception as exc:
            rule = f"loading {kind} raises {wanted.__name__}"
            raise _fail(flavor, rule, exc) from exc
        raise _fail(flavor, f"loading {kind} raises {wanted.__name__}", "a model")


def check_refuses_foreign_models(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """can_save(object()) is false and save(object()) is InvalidInput."""
    if flavor.can_save(object()):
        raise _fail(flavor, "can_save(object()) is false", True)
    try:
        flavor.save(object())
    except InvalidInput:
        return
    except Exception as exc:
        raise _fail(flavor, "save(object()) is InvalidInput", exc) from exc
    raise _fail(flavor, "save(object()) is InvalidInput", "bytes")


#: Every flavor check, in order; tests parametrize over it.
FLAVOR_CHECKS: tuple[FlavorCheck, ...] = (
    check_declares_itself,
    check_saves_bytes,
    check_round_trip,
    check_probabilities,
    check_missing_column,
    check_refuses_garbage,
    check_refuses_foreign_models,
)


def check_flavor(flavor: Flavor, model: Any, X: pd.DataFrame) -> None:
    """Run the flavor contract on a fitted ``model`` the flavor saves.

    Args:
        flavor: The flavor instance.
        model: A fitted binary classifier of the library the flavor handles.
        X: A few rows the model can score (their scores should differ).

    Raises:
        AssertionError: A rule is broken; the message names it.

    Example:
        >>> check_flavor(get_flavor("sklearn"), fitted, X)  # doctest: +SKIP
    """
    for check in FLAVOR_CHECKS:
        try:
            check(flavor, model, X)
        except AssertionError:
            raise
        except Exception as exc:  # the plug-in crashed inside a rule
            rule = (check.__doc__ or "").strip()
            raise AssertionError(
                f"{_who(flavor)} fails {check.__name__} ({rule}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc


# -- trainers -------------------------------------------------------------------
def sample_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Small applicants with numeric, string and missing values; target ``y``.

    Example:
        >>> sample_frame(10).shape
        (10, 5)
    """
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(8, 0.5, n)
    amount[::17] = np.nan
    purpose = rng.choice(["car", "home", "other"], n).astype(object)
    logit = 0.002 * np.nan_to_num(amount, nan=3000) - 6 + (purpose == "car") * 1.5
    return pd.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 75, n),
            "purpose": pd.Series(purpose, dtype=object),
            "region": pd.Series(rng.choice(["n", "s"], n), dtype="category"),
            "y": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def check_trainer(
    trainer: Callable[..., Any], frame: pd.DataFrame | None = None
) -> None:
    """Run the trainer contract: fit, score, save with a flavor, refuse bad input.

    A trainer is ``trainer(frame, *, features, target, params=None)``
    returning a fitted model with ``predict_proba`` that a flavor can save
    (retraining registers it); it leaves ``frame`` as it was and reports a
    feature missing from the frame as InvalidInput.

    Args:
        trainer: The trainer callable.
        frame: Training data with target ``y`` (default :func:`sample_frame`).

    Raises:
        AssertionError: A rule is broken; the message names it.

    Example:
        >>> check_trainer(resolve_trainer("gradient_boosting"))  # doctest: +SKIP
    """
    frame = sample_frame() if frame is None else frame
    features = [c for c in frame.columns if c != "y"]
    before = frame.copy(deep=True)
    model = trainer(frame, features=features, target="y", params=None)
    try:
        pd.testing.assert_frame_equal(frame, before)
    except AssertionError as exc:
        raise _fail(trainer, "the training frame is left unchanged", exc) from None
    if not callable(getattr(model, "predict_proba", None)):
        raise _fail(trainer, "the model has predict_proba", type(model))
    proba = np.asarray(model.predict_proba(frame[features]))
    if proba.shape not in ((len(frame), 2), (len(frame),)):
        raise _fail(trainer, "predict_proba gives one row per input row", proba.shape)
    if not ((proba >= 0) & (proba <= 1)).all():
        raise _fail(trainer, "probabilities are within [0, 1]", proba.min())
    try:
        flavor = flavor_for(model)
    except InvalidInput as exc:
        raise _fail(trainer, "a flavor can save the model", exc.message) from exc
    loaded = flavor.load(flavor.save(model))
    score = flavor.predict_proba(loaded, frame[features])
    if len(np.unique(score)) < 2:
        raise _fail(trainer, "the model separates rows (not one constant score)", score)
    try:
        trainer(frame, features=[*features, "no_such_column"], target="y")
    except InvalidInput:
        return
    except Exception as exc:
        rule = "a feature missing from the frame is InvalidInput"
        raise _fail(trainer, rule, exc) from exc
    raise _fail(trainer, "a feature missing from the frame is InvalidInput", "a model")


# -- alert sinks ------------------------------------------------------------------
def sample_alert() -> Any:
    """An alert as a sink receives it (nothing stored).

    Example:
        >>> sample_alert().severity
        'critical'
    """
    import datetime as dt

    from mlsteward.monitoring.models import Alert

    at = dt.datetime(2025, 7, 31, tzinfo=dt.UTC)
    return Alert(
        id="alert-check",
        monitor="credit-risk",
        check="drift.psi",
        column="credit_amount",
        severity="critical",
        status="pending",
        dedupe_key="credit-risk|drift.psi|credit_amount|critical",
        message="[critical] mlsteward monitor credit-risk: drift.psi = 0.4",
        value=0.4,
        window_label="2025-07",
        run_id="run-check",
        first_seen=at,
        last_seen=at,
        count=1,
        sinks=["check"],
        delivered=[],
        sink_attempts=[],
        attempts=0,
        created_at=at,
        sent_at=None,
    )


def check_sink(
    factory: Callable[..., Any], *, ctx: Context, spec: Mapping[str, Any] | None = None
) -> None:
    """Run the sink contract: build, deliver, deliver again (a retry).

    ``factory(spec, ctx)`` only stores its arguments; the sink's
    ``send(alert)`` returns None when delivered and raises when not (a
    returned ``False`` would lose the alert); a retry delivers again.

    Args:
        factory: The sink type (a class or function).
        ctx: The context the sink is built with.
        spec: The sink's spec as a monitor gives it; it must deliver with it.

    Raises:
        AssertionError: A rule is broken; the message names it.

    Example:
        >>> check_sink(LogSink, ctx=ctx, spec={"type": "log"})  # doctest: +SKIP
    """
    spec = dict(spec or {"type": "check", "id": "check"})
    kept = copy.deepcopy(spec)
    sink = factory(spec, ctx)
    if spec != kept:
        raise _fail(factory, "the factory leaves the spec unchanged", spec)
    send = getattr(sink, "send", None)
    if not callable(send):
        raise _fail(factory, "the sink has send(alert)", type(sink))
    alert = sample_alert()
    for attempt in ("first delivery", "a retry"):
        result = send(alert)
        if result is not None:
            raise _fail(
                factory,
                f"send returns None and raises on failure ({attempt})",
                repr(result),
            )
    if alert != sample_alert():
        raise _fail(factory, "send leaves the alert unchanged", alert)


# -- job handlers ---------------------------------------------------------------
class _RecordingLog:
    """A job log that records lines and, when ``cancelled``, interrupts."""

    def __init__(self, cancelled: bool = False) -> None:
        self.lines: list[tuple[str, str]] = []
        self.cancelled = cancelled
        self.checked = 0

    def __call__(self, message: str, level: str = "info") -> None:
        self.lines.append((message, level))

    def check(self) -> None:
        from mlsteward.jobs.models import JobInterrupted

        self.checked += 1
        if self.cancelled:
            raise JobInterrupted("cancelled by check_job_handler")


def check_job_handler(
    handler: Callable[..., Any],
    *,
    ctx: Context,
    payload: Mapping[str, Any] | None = None,
    invalid_payload: Mapping[str, Any] | None = None,
) -> None:
    """Run the job-handler contract.

    With ``payload``: the handler returns a JSON-serialisable dict, writes
    string log lines at known levels, leaves the payload unchanged, and lets
    ``JobInterrupted`` from ``log.check()`` through (a cancelled job stops).
    With ``invalid_payload``: it raises InvalidInput (the job is dead at once
    rather than retried).

    Raises:
        AssertionError: A rule is broken; the message names it.

    Example:
        >>> check_job_handler(noop, ctx=ctx, payload={"echo": 1})  # doctest: +SKIP
    """
    from mlsteward.jobs.models import JobInterrupted

    if payload is not None:
        given = copy.deepcopy(dict(payload))
        log = _RecordingLog()
        result = handler(ctx, given, log)
        if not isinstance(result, dict):
            raise _fail(handler, "the handler returns a dict", type(result))
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise _fail(handler, "the result is JSON-serialisable", exc) from exc
        if given != payload:
            raise _fail(handler, "the payload is left unchanged", given)
        levels = {"debug", "info", "warning", "error"}
        bad = [line for line in log.lines if line[1] not in levels]
        if bad or not all(isinstance(m, str) for m, _ in log.lines):
            raise _fail(handler, f"log lines are strings at levels {levels}", bad)
        cancelled = _RecordingLog(cancelled=True)
        try:
            handler(ctx, copy.deepcopy(dict(payload)), cancelled)
        except JobInterrupted:
            pass
        else:
            if cancelled.checked:
                raise _fail(
                    handler, "JobInterrupted from log.check() propagates", "a result"
                )
    if invalid_payload is not None:
        try:
            handler(ctx, dict(invalid_payload), _RecordingLog())
        except InvalidInput:
            return
        except Exception as exc:
            rule = "an invalid payload is InvalidInput"
            raise _fail(handler, rule, exc) from exc
        raise _fail(handler, "an invalid payload is InvalidInput", "a result")
