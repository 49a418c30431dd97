"""One grammar for durations and schedules, shared by every capability.

* **Duration** (:func:`parse_duration`): a number of seconds (``3600``) or a
  number with a unit: ``"30s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"1w"``.
  Monitor windows (``"range:7d"``), alert cool-downs, policy cool-downs and
  data windows all take it.
* **Schedule** (:func:`parse_schedule`): a duration (a fixed interval: the
  next run is the last run plus the interval) or a cron expression. Monitors
  and retraining policies (``triggers.schedule``) both take it.
* **Cron**: five fields, ``minute hour day-of-month month day-of-week``,
  evaluated in UTC. Each field takes ``*``, numbers, ranges ``a-b``, steps
  ``*/n`` and ``a-b/n``, and lists ``a,b``; months and weekdays also take
  English three-letter names; weekday 0 and 7 are Sunday. As in classic cron,
  when both day fields are restricted a day matching either is due.

This module is pure: no database, no web framework. Every error is an
:class:`~mlsteward.errors.InvalidInput` naming the caller's field and the
accepted forms.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mlsteward.errors import InvalidInput

__all__ = ["Schedule", "next_due", "parse_duration", "parse_schedule"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw]?)\s*")
#: The accepted forms, quoted in every error.
DURATION_FORMS = (
    "seconds (3600) or a number with s, m, h, d or w ('30s', '15m', '6h', '1d', '1w')"
)
_MONTHS = [
    "jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "oct", "nov", "dec",
]  # fmt: skip
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_HINT = (
    "expected seconds (3600), a duration ('15m', '6h', '1d', '1w') or a "
    "five-field cron expression ('0 6 * * *')"
)


def parse_duration(value: object, field: str = "duration", *, minimum: int = 1) -> int:
    """Seconds in ``3600``, ``"30s"``, ``"15m"``, ``"6h"``, ``"1d"`` or ``"1w"``.

    Args:
        value: A number of seconds or a string of a number and a unit.
        field: The caller's name for the value, used in errors.
        minimum: The least number of seconds accepted (0 for cool-downs that
            may be switched off).

    Raises:
        InvalidInput: Not a duration, or below ``minimum``; names ``field``.

    Example:
        >>> parse_duration("7d", "window"), parse_duration(60), parse_duration("2w")
        (604800, 60, 1209600)
    """
    seconds: int | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = int(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds is None:
        raise InvalidInput(
            f"{field} {value!r} is not a duration; expected {DURATION_FORMS}",
            field=field,
        )
    if seconds < minimum:
        raise InvalidInput(
            f"{field} {value!r} must be at least {minimum} second(s); expected "
            f"{DURATION_FORMS}",
            field=field,
        )
    return seconds


def _cron_field(
    text: str, name: str, lo: int, hi: int, names: list[str] | None, field: str
) -> set[int]:
    values: set[int] = set()

    def num(tok: str) -> int:
        tok = tok.lower()
        if names is not None and tok in names:
            return names.index(tok) + (1 if name == "month" else 0)
        if not tok.isdigit():
            raise InvalidInput(
                f"{field}: cron {name} {tok!r} is not a number in {lo}-{hi}",
                field=field,
            )
        return int(tok)

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidInput(
                    f"{field}: cron {name} step {step_text!r} must be a positive "
                    "number",
                    field=field,
                )
            step = int(step_text)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            first, last = part.split("-", 1)
            a, b = num(first), num(last)
        else:
            a = num(part)
            b = hi if step > 1 else a
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise InvalidInput(
                f"{field}: cron {name} {part!r} is outside {lo}-{hi}", field=field
            )
        values.update(range(a, b + 1, step))
    return values


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; :meth:`next_after` gives the next due time.

    Example:
        >>> s = parse_schedule("0 6 * * *")
        >>> s.next_after(dt.datetime(2025, 7, 1, 7, 0, tzinfo=dt.UTC)).isoformat()
        '2025-07-02T06:00:00+00:00'
        >>> parse_schedule("15m").interval
        900
    """

    text: str
    interval: int | None = None
    field: str = "schedule"
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    day_restricted: bool = False
    weekday_restricted: bool = False

    @property
    def kind(self) -> str:
        return "interval" if self.interval is not None else "cron"

    def _day_ok(self, t: dt.datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return dom or dow
        return dom and dow

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """The first due time strictly after ``after`` (UTC)."""
        after = after.astimezone(dt.UTC)
        if self.interval is not None:
            return after + dt.timedelta(seconds=self.interval)
        t = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (
                    t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)
                ).replace(day=1)
                continue
            if not self._day_ok(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
                continue
            return t
        raise InvalidInput(
            f"{self.field}: cron schedule {self.text!r} never comes due",
            field=self.field,
        )


def parse_schedule(value: str | int, field: str = "schedule") -> Schedule:
    """Parse a duration (a fixed interval) or a five-field cron expression.

    Args:
        value: ``3600``, ``"15m"``, ``"1w"`` or ``"0 6 * * mon"``.
        field: The caller's name for the value, used in errors.

    Raises:
        InvalidInput: Neither, naming ``field`` and what was expected.

    Example:
        >>> parse_schedule("1w").interval, parse_schedule("0 6 * * *").kind
        (604800, 'cron')
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"{field} {value!r}: {_HINT}", field=field)
    text = str(value).strip()
    if _DURATION.fullmatch(text):
        return Schedule(text, interval=parse_duration(text, field), field=field)
    parts = text.split()
    if len(parts) != 5:
        raise InvalidInput(f"{field} {text!r}: {_HINT}", field=field)
    sets = [
        _cron_field(p, name, lo, hi, names, field)
        for p, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = {0 if d == 7 else d for d in sets[4]}
    return Schedule(
        text=" ".join(parts),
        field=field,
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=frozenset(weekdays),
        day_restricted=not parts[2].startswith("*"),
        weekday_restricted=not parts[4].startswith("*"),
    )


def next_due(schedule: Schedule | str | int, after: dt.datetime) -> dt.datetime:
    """The first time ``schedule`` is due strictly after ``after`` (UTC).

    Example:
        >>> t = dt.datetime(2025, 7, 1, 7, 0, tzinfo=dt.UTC)
        >>> next_due("1w", t).isoformat(), next_due("0 6 * * *", t).isoformat()
        ('2025-07-08T07:00:00+00:00', '2025-07-02T06:00:00+00:00')
    """
    if not isinstance(schedule, Schedule):
        schedule = parse_schedule(schedule)
    return schedule.next_after(after)
