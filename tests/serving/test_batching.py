"""Micro-batching: requests reaching a model in one turn of the event loop
share one call; cheap calls stay on the loop, dear ones go to the thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from mlsteward.serving.batching import Batcher


class _Model:
    """Scores each row as its ``x`` value; records every call."""

    def __init__(self, cost: float = 0.0, fail_on: float | None = None) -> None:
        self.calls: list[tuple[int, int]] = []  # (rows, thread id)
        self.cost = cost
        self.fail_on = fail_on

    def __call__(self, columns: Mapping[str, Sequence[Any]], n: int) -> np.ndarray:
        self.calls.append((n, threading.get_ident()))
        if self.cost:
            deadline = time.perf_counter() + self.cost
            while time.perf_counter() < deadline:  # busy, like a model
                pass
        values = list(columns["x"])
        if self.fail_on is not None and self.fail_on in values:
            raise ValueError(f"cannot score {self.fail_on}")
        return np.asarray(values, dtype=np.float64)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_concurrent_requests_share_one_call_and_get_their_own_rows() -> None:
    model = _Model()

    async def main() -> list[np.ndarray]:
        batcher = Batcher(model, executor=ThreadPoolExecutor(1))
        return await asyncio.gather(
            *(batcher.score({"x": [float(i), i + 0.5]}, 2) for i in range(5))
        )

    results = _run(main())
    assert [r.tolist() for r in results] == [[i, i + 0.5] for i in range(5)]
    assert [rows for rows, _ in model.calls] == [10]  # one call for all five


def test_cheap_calls_run_on_the_loop_and_large_ones_in_the_thread() -> None:
    model = _Model()

    async def main() -> int:
        batcher = Batcher(model, executor=ThreadPoolExecutor(1), thread_rows=64)
        await batcher.score({"x": [1.0]}, 1)
        await batcher.score({"x": [float(i) for i in range(100)]}, 100)
        return threading.get_ident()

    loop_thread = _run(main())
    (small, small_thread), (large, large_thread) = model.calls
    assert (small, large) == (1, 100)
    assert small_thread == loop_thread
    assert large_thread != loop_thread


def test_a_dear_model_moves_to_the_thread_once_measured() -> None:
    model = _Model(cost=0.003)  # 3 ms a call: dearer than inline_below

    async def main() -> int:
        batcher = Batcher(model, executor=ThreadPoolExecutor(1), inline_below=0.001)
        for _ in range(3):
            await batcher.score({"x": [1.0]}, 1)
        return threading.get_ident()

    loop_thread = _run(main())
    threads = [t for _, t in model.calls]
    assert threads[0] == loop_thread  # not measured yet
    assert all(t != loop_thread for t in threads[1:])


def test_max_rows_caps_a_call() -> None:
    model = _Model()

    async def main() -> list[np.ndarray]:
        batcher = Batcher(model, max_rows=4)
        return await asyncio.gather(
            *(batcher.score({"x": [float(i)] * 2}, 2) for i in range(5))
        )

    results = _run(main())
    assert [r.tolist() for r in results] == [[float(i)] * 2 for i in range(5)]
    assert [rows for rows, _ in model.calls] == [4, 4, 2]


@pytest.mark.parametrize("rows", [1, 100])
def test_a_failing_call_fails_its_waiters_and_the_batcher_goes_on(rows: int) -> None:
    model = _Model(fail_on=-1.0)

    async def main() -> tuple[list[Any], np.ndarray]:
        batcher = Batcher(model, executor=ThreadPoolExecutor(1))
        outcomes = await asyncio.gather(
            batcher.score({"x": [-1.0] * rows}, rows),
            batcher.score({"x": [2.0] * rows}, rows),
            return_exceptions=True,
        )
        after = await batcher.score({"x": [3.0]}, 1)
        return outcomes, after

    outcomes, after = _run(main())
    assert all(isinstance(o, ValueError) for o in outcomes)  # one shared call
    assert after.tolist() == [3.0]


def test_max_wait_gathers_requests_that_arrive_a_little_later() -> None:
    model = _Model()

    async def late(delay: float) -> np.ndarray:
        await asyncio.sleep(delay)
        return await batcher.score({"x": [delay]}, 1)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(late(0.0), late(0.005))

    batcher = Batcher(model, max_wait=0.25)
    results = _run(main())
    assert [r.tolist() for r in results] == [[0.0], [0.005]]
    assert [rows for rows, _ in model.calls] == [2]
