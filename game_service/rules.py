"""The game's rules, each defined once, with no I/O.

The rules that the database applies (energy refill, the pack's fit under the cap) are
SQLAlchemy Core expressions: every statement that needs one builds it from here, so the
writes (on PostgreSQL and SQLite) and the reads cannot drift apart. The rest are plain
functions of numbers (the fixed windows of the write budget and the sign-up limit).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import ReturnTypeFromArgs

from game_service.core.config import Settings
from game_service.core.storage import public_url

IDEMPOTENCY_TTL_HOURS = 24


# ---------------------------------------------------------------- energy
def energy_now(energy: Any, energy_at: Any, now: Any, cap: Any, refill_ms: Any) -> tuple[Any, Any]:
    """Energy refilled lazily as of ``now`` (epoch ms) and its new reference time, as SQL.

    One point every ``refill_ms`` since ``energy_at``, up to ``cap``; a full bar restarts
    its clock at ``now``. The arguments are SQL expressions (columns, parameters).
    """
    ticks = greatest(now - energy_at, 0) // refill_ms  # none for a clock that went back
    cur = greatest(energy, least(cap, energy + ticks))  # a bar over the cap (a pack) stays over it
    at = sa.case((energy + ticks >= cap, now), else_=energy_at + ticks * refill_ms)
    return cur, at


# Written with GREATEST and LEAST rather than CASE, each term once: the hot writes that embed
# the refill stay short, which keeps them within psycopg's cache of parsed queries (4096
# characters; tests/game_service/test_writes.py). SQLite spells them max() and min().
class greatest(ReturnTypeFromArgs):  # noqa: N801 - SQL's name
    inherit_cache = True


class least(ReturnTypeFromArgs):  # noqa: N801 - SQL's name
    inherit_cache = True


@compiles(greatest, "sqlite")
@compiles(least, "sqlite")
def _sqlite_min_max(element, compiler, **kw):
    return f"{'max' if isinstance(element, greatest) else 'min'}({compiler.process(element.clauses, **kw)})"


def next_energy_in_seconds(energy: int, energy_at: int, now: int, s: Settings) -> int | None:
    """Seconds until the next energy point, for energy as of ``now`` (None when full)."""
    if energy >= s.energy_cap:
        return None
    return max(0, (energy_at + s.energy_refill_seconds * 1000 - now + 999) // 1000)


def pack_fits(energy: Any, pack: Any, cap: Any) -> Any:
    """An energy pack is sold only when all of it fits under the cap: energy never goes past
    the cap, and a player never pays for energy they cannot get. Numbers or SQL expressions."""
    return energy + pack <= cap


# ---------------------------------------------------------------- progress
def level_of(xp: int, per_level: int) -> int:
    return 1 + xp // per_level


def castle_price(level: int, s: Settings) -> int | None:
    """Coins to build the castle from ``level`` to the next one (None when it is complete)."""
    return None if level >= s.castle_max_level else (level + 1) * s.castle_price


def daily_streak(days: list[dt.date], today: dt.date) -> int:
    """Consecutive days with a claimed daily reward, ending today or yesterday (``days``
    newest first). A day missed ends the streak."""
    streak = 0
    expect = today if days and days[0] == today else today - dt.timedelta(days=1)
    for d in days:
        if d != expect:
            break
        streak += 1
        expect -= dt.timedelta(days=1)
    return streak


# ---------------------------------------------------------------- fixed windows (write budget, sign-ups)
def window_number(now_ms: int, window_seconds: int) -> int:
    """The number of the fixed window of ``window_seconds`` that ``now_ms`` falls in."""
    return now_ms // (window_seconds * 1000)


def window_retry_after(now_ms: int, window_seconds: int) -> int:
    """Seconds until that window ends (at least 1)."""
    return max(1, window_seconds - (now_ms // 1000) % window_seconds)


def rate_window(now_ms: int, s: Settings) -> int:
    """The number of the write budget's window that ``now_ms`` falls in."""
    return window_number(now_ms, s.rate_limit_window_seconds)


def retry_after_seconds(now_ms: int, s: Settings) -> int:
    """Seconds until the write budget's current window ends (at least 1)."""
    return window_retry_after(now_ms, s.rate_limit_window_seconds)


def op_key(op: str, idem_key: str | None, now_ms: int) -> str:
    """The ledger's per-operation key: derived from the Idempotency-Key when there is one.

    The same key may come back after it expired (a new request): the TTL period number
    keeps the ledger's op_key unique, as any reuse is at least one TTL later.
    """
    if idem_key:
        return f"{op}:k:{idem_key}:{now_ms // (IDEMPOTENCY_TTL_HOURS * 3600 * 1000)}"
    return f"{op}:{uuid.uuid4().hex}"


# ---------------------------------------------------------------- views
def player_view(row: Any, s: Settings, now: int) -> dict:
    """A player as the API shows it; ``row.energy``/``row.energy_at`` are as of ``now``."""
    return {
        "id": row.id,
        "name": row.name,
        "coins": row.coins,
        "energy": row.energy,
        "energy_cap": s.energy_cap,
        "next_energy_in_seconds": next_energy_in_seconds(row.energy, row.energy_at, now, s),
        "xp": row.xp,
        "level": level_of(row.xp, s.xp_per_level),
        "xp_per_level": s.xp_per_level,
        "avatar_url": public_url(row.avatar_key) if row.avatar_key else None,
        "facebook_linked": row.fb_user_id is not None,
    }


def public_player(row: Any, s: Settings) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "level": level_of(row.xp, s.xp_per_level),
        "xp": row.xp,
        "avatar_url": public_url(row.avatar_key) if row.avatar_key else None,
    }
