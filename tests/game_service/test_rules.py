"""The game rules on their own (game_service.rules): exact values at the edges.

The energy rule is SQL; it is evaluated here by PostgreSQL itself, as the service does, and by
SQLite, which local play uses."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from game_service import rules
from game_service.core.config import Settings

S = Settings(session_secret="x")  # the default rules: cap 20, one point per 180 s, 60 s rate windows
MIN = 60_000


def energy_in_sql(db, energy: int, energy_at: int, now: int, cap: int = 20, refill_ms: int = 180_000):
    cur, at = rules.energy_now(
        sa.literal(energy, sa.Integer), sa.literal(energy_at, sa.BigInteger), sa.literal(now, sa.BigInteger),
        sa.literal(cap, sa.Integer), sa.literal(refill_ms, sa.BigInteger),
    )
    sql = sa.select(cur, at).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    found = tuple(db.execute(str(sql)).fetchone())
    with sa.create_engine("sqlite://").connect() as lite:
        assert tuple(lite.execute(sa.select(cur, at)).one()) == found, "SQLite and PostgreSQL disagree"
    return found


@pytest.mark.parametrize(
    ("energy", "energy_at", "now", "expected"),
    [
        (5, 0, 0, (5, 0)),  # no time passed
        (5, 0, 179_999, (5, 0)),  # not quite one point
        (5, 0, 180_000, (6, 180_000)),  # one point, clock moves by exactly one period
        (5, 1_000, 540_999, (7, 361_000)),  # two points; the part-period stays counted
        (19, 0, 180_000, (20, 180_000)),  # reaches the cap: the clock restarts at now
        (19, 0, 200_000, (20, 200_000)),  # ... at now, not at the last full period
        (18, 0, 10 * 180_000, (20, 1_800_000)),  # would pass the cap: capped
        (20, 0, 500_000, (20, 500_000)),  # full: stays full, clock at now
        (35, 0, 500_000, (35, 500_000)),  # above the cap (which nothing sells: e.g. a cap lowered by a release): kept, no refill
        (5, 900_000, 500_000, (5, 900_000)),  # clock behind energy_at: no refill
    ],
)
def test_energy_refills_one_point_per_period_up_to_the_cap(db, energy, energy_at, now, expected):
    assert energy_in_sql(db, energy, energy_at, now) == expected


def test_next_energy_point_countdown():
    assert rules.next_energy_in_seconds(20, 0, 0, S) is None
    assert rules.next_energy_in_seconds(25, 0, 0, S) is None
    assert rules.next_energy_in_seconds(19, 0, 0, S) == 180
    assert rules.next_energy_in_seconds(19, 0, 1, S) == 180  # rounded up
    assert rules.next_energy_in_seconds(19, 0, 1_000, S) == 179
    assert rules.next_energy_in_seconds(19, 0, 179_001, S) == 1
    assert rules.next_energy_in_seconds(19, 0, 200_000, S) == 0  # never negative


def test_levels():
    assert [rules.level_of(xp, 100) for xp in (0, 99, 100, 199, 250)] == [1, 1, 2, 2, 3]


def test_rate_limit_windows_and_retry_after():
    assert [rules.rate_window(ms, S) for ms in (0, MIN - 1, MIN, 5 * MIN + 1)] == [0, 0, 1, 5]
    assert rules.retry_after_seconds(0, S) == 60
    assert rules.retry_after_seconds(1_000, S) == 59
    assert rules.retry_after_seconds(59_999, S) == 1
    assert rules.retry_after_seconds(60_000 * 1_000 + 30_500, S) == 30


def test_op_keys_follow_the_idempotency_key_within_its_lifetime():
    day = rules.IDEMPOTENCY_TTL_HOURS * 3600 * 1000
    assert rules.op_key("action", "k1", 0) == rules.op_key("action", "k1", day - 1) == "action:k:k1:0"
    assert rules.op_key("action", "k1", day) == "action:k:k1:1"
    a, b = rules.op_key("action", None, 0), rules.op_key("action", None, 0)
    assert a != b and a.startswith("action:")
