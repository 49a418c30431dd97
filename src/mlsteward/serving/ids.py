"""Ids the serving path makes: request ids, and where a sticky key falls."""

from __future__ import annotations

import hashlib
import os
import random
import time

__all__ = ["request_ids", "route_share"]

_RAND_B = (1 << 62) - 1
_ids = random.Random()  # seeded from os.urandom
os.register_at_fork(after_in_child=_ids.seed)  # a forked child draws its own


def request_ids(n: int) -> list[str]:
    """``n`` new request ids: 32 hex digits laid out as UUID version 7.

    Time-ordered (48 bits of Unix milliseconds first), so the prediction
    log's unique index grows at its end instead of at random places; the
    rest is random, and the records of one request count up from one
    random value. The random bits come from a generator seeded from the
    operating system (and reseeded in a forked child), not from a system
    call per request: under load that call showed up in profiles. Ids are
    unique, not secret: nothing is authorised by knowing one.
    """
    rand = _ids.getrandbits(80)
    high = (time.time_ns() // 1_000_000) << 16 | 0x7000 | (rand >> 68)
    low = rand & _RAND_B
    head = f"{high:016x}"
    if n == 1:
        return [f"{head}{(2 << 62) | low:016x}"]
    return [f"{head}{(2 << 62) | ((low + i) & _RAND_B):016x}" for i in range(n)]


def route_share(deployment: str, key: str) -> float:
    """Where a sticky key falls in [0, 1): the same key, the same route."""
    digest = hashlib.blake2b(f"{deployment}\x00{key}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2**64
