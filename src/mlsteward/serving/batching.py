"""Adaptive micro-batching: concurrent requests share one model call.

Every request that reaches the model in one turn of the event loop goes in
one call: the first to arrive schedules the call for the end of the turn,
the others join it. At concurrency 1 that adds one loop callback (a few
microseconds); under load one call serves many requests, and a call of 8
rows costs ONNX Runtime about what one row costs.

Where a call runs depends on what it costs. Cheap calls (an ONNX graph on a
few rows: tens of microseconds) run on the event loop: handing them to a
thread and back costs more than the call, and on two cores the hand-off
doubles the latency of a one-row request. Dear calls (a scikit-learn
pipeline through pandas, or a large batch) run in one worker thread, so the
loop keeps reading requests meanwhile; those requests form the next batch.
``max_wait`` can add a short wait for more company before each call.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["Batcher", "limit_threads"]

ScoreFn = Callable[[Mapping[str, Sequence[Any]], int], np.ndarray]
_Item = tuple[Mapping[str, Sequence[Any]], int, "asyncio.Future[Any]"]


class Batcher:
    """Coalesce concurrent scoring calls of one model version.

    Args:
        score: ``score(columns, n) -> scores`` for column lists of n rows.
        max_rows: Most rows in one model call.
        max_wait: Seconds to wait for more requests before a call (0: none).
        executor: Thread dear calls run in; ``None`` runs every call on the
            loop.
        on_batch: Called with each call's row count (metrics).
        inline_below: Calls of fewer than ``thread_rows`` rows run on the
            loop while calls of that size average less than this many
            seconds (measured as the server runs).
        thread_rows: Calls of at least this many rows always go to the
            worker thread.
    """

    def __init__(
        self,
        score: ScoreFn,
        *,
        max_rows: int = 256,
        max_wait: float = 0.0,
        executor: ThreadPoolExecutor | None = None,
        on_batch: Callable[[int], None] | None = None,
        inline_below: float = 0.0005,
        thread_rows: int = 64,
    ) -> None:
        self.score_fn = score
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.executor = executor
        self.on_batch = on_batch
        self.inline_below = inline_below
        self.thread_rows = thread_rows
        self.calls = 0
        self._queue: list[_Item] = []
        self._scheduled = False  # a call is scheduled for the end of this turn
        self._running = False  # a drain task owns the queue
        self._task: asyncio.Task[None] | None = None
        self._cost: float | None = None  # running average of small calls, s

    def inline(self, rows: int) -> bool:
        """Whether a call of ``rows`` rows runs on the event loop."""
        if self.executor is None:
            return True
        return rows < self.thread_rows and (
            self._cost is None or self._cost < self.inline_below
        )

    def _timed(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray:
        start = time.perf_counter()
        scores = self.score_fn(columns, n)
        if n < self.thread_rows:
            cost = time.perf_counter() - start
            self._cost = cost if self._cost is None else 0.9 * self._cost + 0.1 * cost
        self.calls += 1
        return scores

    async def score(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray:
        """Scores of ``n`` rows, computed alone or with concurrent requests."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((columns, n, fut))
        if not self._scheduled and not self._running:
            self._scheduled = True
            loop.call_soon(self._turn_end)
        result: np.ndarray = await fut
        return result

    def _turn_end(self) -> None:
        """Score what this turn of the loop queued: cheap calls here, the
        rest (or everything, with ``max_wait``) in a drain task."""
        self._scheduled = False
        while self._queue and not self._running:
            if self.max_wait > 0 or not self.inline(self._rows(self.max_rows)):
                self._running = True
                self._task = asyncio.get_running_loop().create_task(self._drain())
                return
            batch = self._take()
            merged, total = _merge(batch)
            try:
                scores = self._call(merged, total)
            except Exception as exc:
                _fail(batch, exc)
                continue
            _settle(batch, scores)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.max_wait > 0 and self._rows(self.max_rows) < self.max_rows:
                    await asyncio.sleep(self.max_wait)
                batch = self._take()
                merged, total = _merge(batch)
                try:
                    if self.inline(total):
                        scores = self._call(merged, total)
                    else:
                        if self.on_batch is not None:
                            self.on_batch(total)
                        scores = await loop.run_in_executor(
                            self.executor, self._timed, merged, total
                        )
                except Exception as exc:  # each waiter gets the model's error
                    _fail(batch, exc)
                    continue
                _settle(batch, scores)
                await asyncio.sleep(0)  # let waiting requests join the next batch
        finally:
            self._running = False
            self._task = None
        if self._queue and not self._scheduled:  # arrived as the task ended
            self._scheduled = True
            loop.call_soon(self._turn_end)

    def _call(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray:
        if self.on_batch is not None:
            self.on_batch(n)
        return self._timed(columns, n)

    def _rows(self, cap: int) -> int:
        """Rows of the next call: queued rows up to ``cap``."""
        rows = 0
        for _, n, _ in self._queue:
            if rows and rows + n > cap:
                break
            rows += n
        return rows

    def _take(self) -> list[_Item]:
        taken: list[_Item] = []
        rows = 0
        queue = self._queue
        while queue:
            n = queue[0][1]
            if taken and rows + n > self.max_rows:
                break
            rows += n
            taken.append(queue[0])
            del queue[0]
        return taken


def _fail(batch: list[_Item], exc: Exception) -> None:
    for _, _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)


def _settle(batch: list[_Item], scores: np.ndarray) -> None:
    if len(batch) == 1:
        fut = batch[0][2]
        if not fut.done():
            fut.set_result(scores)
        return
    start = 0
    for _, n, fut in batch:
        if not fut.done():
            fut.set_result(scores[start : start + n])
        start += n


def _merge(batch: list[_Item]) -> tuple[Mapping[str, Sequence[Any]], int]:
    if len(batch) == 1:
        return batch[0][0], batch[0][1]
    first = batch[0][0]
    merged: dict[str, list[Any]] = {name: [] for name in first}
    for columns, _, _ in batch:
        for name, out in merged.items():
            out.extend(columns[name])
    return merged, sum(n for _, n, _ in batch)


def limit_threads() -> None:
    """One OpenMP/BLAS thread per serving process.

    On a busy machine the default (a thread per core) lets one-row
    predictions queue behind each other's thread pools (p99 of hundreds of
    milliseconds); the server's concurrency comes from batching instead.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # scikit-learn brings it; nothing to limit without
        pass
