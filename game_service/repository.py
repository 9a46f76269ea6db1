"""Data access: every SQL statement of the service lives here.

Consistency rules (see the design notes):
* balances change by one conditional UPDATE (``... WHERE coins >= n``) and an
  append-only ledger row with a unique ``(player_id, op_key)`` in the same transaction;
* energy is computed lazily from ``energy_at`` inside that same UPDATE, never by a timer;
* gifts are claimed by a conditional UPDATE (``claimed_at IS NULL``), the daily reward by a
  unique ``(player_id, day)`` row;
* a client may retry any write with an ``Idempotency-Key``: the key row is inserted in the
  write's own transaction, and the stored response is replayed on a retry;
* per-player write rate limits are counted in the database, so they hold across replicas.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service import clock
from game_service.config import Settings
from game_service.errors import GameError, conflict, not_found
from game_service.models import (
    daily_rewards,
    deletion_requests,
    friend_requests,
    friends,
    gifts,
    idempotency_keys,
    ledger,
    players,
    rate_limits,
)
from game_service.storage import public_url

p = players


def _reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool in autocommit mode: one-statement reads need no BEGIN/ROLLBACK."""
    holder = engine.sync_engine  # AsyncEngine has __slots__; its sync engine takes attributes
    auto = getattr(holder, "_game_autocommit", None)
    if auto is None:
        auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        holder._game_autocommit = auto  # type: ignore[attr-defined]
    return auto


def _insert(conn: AsyncConnection, table: sa.Table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# ---------------------------------------------------------------- state views
def level_of(xp: int, per_level: int) -> int:
    return 1 + xp // per_level


def current_energy(energy: int, energy_at: int, now: int, s: Settings) -> tuple[int, int]:
    if energy >= s.energy_cap:
        return energy, now
    refill = s.energy_refill_seconds * 1000
    ticks = max(0, (now - energy_at) // refill)
    e = min(s.energy_cap, energy + ticks)
    return e, (now if e >= s.energy_cap else energy_at + ticks * refill)


def _energy_exprs(s: Settings, now: int):
    """SQL for the lazily refilled energy as of ``now`` and its new reference time."""
    refill = s.energy_refill_seconds * 1000
    elapsed = sa.literal(now, sa.BigInteger) - p.c.energy_at
    ticks = sa.case((elapsed > 0, elapsed // refill), else_=0)
    full = sa.or_(p.c.energy >= s.energy_cap, p.c.energy + ticks >= s.energy_cap)
    cur = sa.case(
        (p.c.energy >= s.energy_cap, p.c.energy),
        (p.c.energy + ticks >= s.energy_cap, s.energy_cap),
        else_=p.c.energy + ticks,
    )
    at = sa.case((full, sa.literal(now, sa.BigInteger)), else_=p.c.energy_at + ticks * refill)
    return cur, at


def player_view(row: Any, s: Settings, now: int) -> dict:
    energy, energy_at = current_energy(row.energy, row.energy_at, now, s)
    next_in = None
    if energy < s.energy_cap:
        next_in = max(0, (energy_at + s.energy_refill_seconds * 1000 - now + 999) // 1000)
    return {
        "id": row.id,
        "name": row.name,
        "coins": row.coins,
        "energy": energy,
        "energy_cap": s.energy_cap,
        "next_energy_in_seconds": next_in,
        "xp": row.xp,
        "level": level_of(row.xp, s.xp_per_level),
        "xp_per_level": s.xp_per_level,
        "avatar_url": public_url(row.avatar_key) if row.avatar_key else None,
        "facebook_linked": row.fb_user_id is not None,
    }


_STATE_SQL = sa.text(
    """SELECT p.id, p.name, p.fb_user_id, p.coins, p.energy, p.energy_at, p.xp, p.avatar_key,
         p.gifts_waiting,
         EXISTS (SELECT 1 FROM daily_rewards d WHERE d.player_id = p.id AND d.day = :today) AS daily_claimed
       FROM players p WHERE p.id = :pid"""
).bindparams(sa.bindparam("today", type_=sa.Date), sa.bindparam("pid", type_=sa.BigInteger))


async def get_state(engine: AsyncEngine, s: Settings, player_id: int) -> dict:
    """The player's state in one primary-key read (and a primary-key probe of daily_rewards)."""
    async with _reader(engine).connect() as conn:
        row = (await conn.execute(_STATE_SQL, {"today": clock.today(), "pid": player_id})).one_or_none()
    if row is None:
        raise not_found("player")
    view = player_view(row, s, clock.now_ms())
    view["daily_reward_available"] = not row.daily_claimed
    view["daily_reward_coins"] = s.daily_reward_coins
    view["gifts_waiting"] = row.gifts_waiting
    return view


async def db_ping(engine: AsyncEngine) -> int:
    async with _reader(engine).connect() as conn:
        return (await conn.execute(sa.text("SELECT 1"))).scalar_one()


# ---------------------------------------------------------------- players
async def create_player(engine: AsyncEngine, s: Settings, name: str | None, fb_user_id: str | None = None) -> int:
    async with engine.begin() as conn:
        pid = (
            await conn.execute(
                sa.insert(p)
                .values(
                    name=name or "Guest",
                    fb_user_id=fb_user_id,
                    coins=s.start_coins,
                    energy=s.energy_cap,
                    energy_at=clock.now_ms(),
                    xp=0,
                )
                .returning(p.c.id)
            )
        ).scalar_one()
        if not name:
            await conn.execute(sa.update(p).where(p.c.id == pid).values(name=f"Guest {pid}"))
        if s.start_coins:
            await conn.execute(
                sa.insert(ledger).values(
                    player_id=pid, delta=s.start_coins, balance_after=s.start_coins, reason="welcome", op_key="welcome"
                )
            )
    return pid


async def player_exists(engine: AsyncEngine, player_id: int) -> bool:
    async with _reader(engine).connect() as conn:
        return (await conn.execute(sa.select(p.c.id).where(p.c.id == player_id))).first() is not None


async def find_by_facebook(engine: AsyncEngine, fb_user_id: str) -> int | None:
    async with _reader(engine).connect() as conn:
        return (await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id == fb_user_id))).scalar_one_or_none()


async def link_facebook(engine: AsyncEngine, player_id: int, fb_user_id: str) -> None:
    async with engine.begin() as conn:
        other = (await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id == fb_user_id))).scalar_one_or_none()
        if other is not None and other != player_id:
            raise conflict("facebook_in_use", "this Facebook account already belongs to another player")
        row = (
            await conn.execute(sa.select(p.c.fb_user_id).where(p.c.id == player_id).with_for_update())
        ).one_or_none()
        if row is None:
            raise not_found("player")
        if row.fb_user_id is not None and row.fb_user_id != fb_user_id:
            raise conflict("facebook_linked", "this player is already linked to another Facebook account")
        try:
            await conn.execute(sa.update(p).where(p.c.id == player_id).values(fb_user_id=fb_user_id))
        except sa.exc.IntegrityError as exc:
            raise conflict("facebook_in_use", "this Facebook account already belongs to another player") from exc


async def rename(engine: AsyncEngine, player_id: int, name: str) -> None:
    async with engine.begin() as conn:
        r = await conn.execute(sa.update(p).where(p.c.id == player_id).values(name=name))
        if r.rowcount == 0:
            raise not_found("player")


async def ledger_entries(engine: AsyncEngine, player_id: int, limit: int, offset: int) -> list[dict]:
    q = (
        sa.select(ledger.c.id, ledger.c.delta, ledger.c.balance_after, ledger.c.reason, ledger.c.created_at)
        .where(ledger.c.player_id == player_id)
        .order_by(ledger.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    async with _reader(engine).connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(q)]


# ---------------------------------------------------------------- write framework
def _gone_player_is_404(fn):
    """A session may outlive its player (data deletion): writes then hit a foreign key.
    That is a 404 for the player, not a server error."""

    @functools.wraps(fn)
    async def wrapper(engine: AsyncEngine, s: Settings, player_id: int, *args, **kwargs):
        try:
            return await fn(engine, s, player_id, *args, **kwargs)
        except sa.exc.IntegrityError:
            if not await player_exists(engine, player_id):
                raise not_found("player") from None
            raise

    return wrapper


IDEMPOTENCY_TTL_HOURS = 24
Handler = Callable[[AsyncConnection, str], Awaitable[tuple[int, dict]]]


async def _count_write(conn: AsyncConnection, s: Settings, player_id: int) -> int:
    window = clock.now_ms() // (s.rate_limit_window_seconds * 1000)
    stmt = _insert(conn, rate_limits).values(player_id=player_id, window_start=window, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[rate_limits.c.player_id],
        set_={
            "count": sa.case(
                (rate_limits.c.window_start == stmt.excluded.window_start, rate_limits.c.count + 1), else_=1
            ),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(rate_limits.c.count)
    return (await conn.execute(stmt)).scalar_one()


def _rate_limited(s: Settings) -> GameError:
    retry = s.rate_limit_window_seconds - (clock.now_ms() // 1000) % s.rate_limit_window_seconds
    return GameError(
        429, "rate_limited", "too many write requests; slow down", headers={"Retry-After": str(max(1, retry))}
    )


@_gone_player_is_404
async def run_write(
    engine: AsyncEngine,
    s: Settings,
    player_id: int,
    op: str,
    idem_key: str | None,
    fingerprint: str,
    handler: Handler,
) -> tuple[int, dict]:
    """Run one write in one transaction, with rate limiting and idempotency.

    The handler gets the connection and an ``op_key`` that is unique per logical
    operation (derived from the Idempotency-Key when the client sent one). It returns
    ``(status_code, body)``; a :class:`GameError` rolls the write back.
    """
    if idem_key:
        # the same key may come back after it expired (a new request): the TTL period
        # number keeps the ledger's op_key unique, as any reuse is >= one TTL later
        period = clock.now_ms() // (IDEMPOTENCY_TTL_HOURS * 3600 * 1000)
        op_key = f"{op}:k:{idem_key}:{period}"
    else:
        op_key = f"{op}:{uuid.uuid4().hex}"
    try:
        async with engine.begin() as conn:
            if await _count_write(conn, s, player_id) > s.rate_limit_writes:
                raise _RateLimitedCommit()
            if idem_key:
                # keys are remembered for a day (like most payment APIs); older ones are pruned
                await conn.execute(
                    sa.delete(idempotency_keys).where(
                        idempotency_keys.c.player_id == player_id,
                        idempotency_keys.c.created_at < clock.utcnow() - dt.timedelta(hours=IDEMPOTENCY_TTL_HOURS),
                    )
                )
                got = (
                    await conn.execute(
                        _insert(conn, idempotency_keys)
                        .values(player_id=player_id, key=idem_key, fingerprint=fingerprint, created_at=clock.utcnow())
                        .on_conflict_do_nothing()
                        .returning(idempotency_keys.c.key)
                    )
                ).first()
                if got is None:
                    # Another request with this key committed first (PostgreSQL waited for it):
                    # replay its stored result.
                    stored = (
                        await conn.execute(
                            sa.select(idempotency_keys).where(
                                idempotency_keys.c.player_id == player_id, idempotency_keys.c.key == idem_key
                            )
                        )
                    ).one()
                    if stored.fingerprint != fingerprint:
                        raise GameError(
                            422, "idempotency_key_reused", "this Idempotency-Key was used for a different request"
                        )
                    return stored.status_code, json.loads(stored.response)
            status, body = await handler(conn, op_key)
            if idem_key:
                await conn.execute(
                    sa.update(idempotency_keys)
                    .where(idempotency_keys.c.player_id == player_id, idempotency_keys.c.key == idem_key)
                    .values(status_code=status, response=json.dumps(body, default=str))
                )
            return status, body
    except _RateLimitedCommit:
        # the counter increment above must persist: record it in its own transaction
        async with engine.begin() as conn:
            await _count_write(conn, s, player_id)
        raise _rate_limited(s) from None
    except GameError:
        # a refused write still counts against the player's write budget
        async with engine.begin() as conn:
            await _count_write(conn, s, player_id)
        raise


class _RateLimitedCommit(Exception):
    pass


async def _credit(
    conn: AsyncConnection, player_id: int, amount: int, reason: str, op_key: str, gift_claimed: bool = False
) -> int:
    values: dict = {"coins": p.c.coins + amount}
    if gift_claimed:
        values["gifts_waiting"] = p.c.gifts_waiting - 1
    coins = (
        await conn.execute(sa.update(p).where(p.c.id == player_id).values(**values).returning(p.c.coins))
    ).scalar_one_or_none()
    if coins is None:
        raise not_found("player")
    await conn.execute(
        sa.insert(ledger).values(player_id=player_id, delta=amount, balance_after=coins, reason=reason, op_key=op_key)
    )
    return coins


# ---------------------------------------------------------------- game actions
def act_handler(s: Settings, player_id: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        now = clock.now_ms()
        cur, at = _energy_exprs(s, now)
        row = (
            await conn.execute(
                sa.update(p)
                .where(p.c.id == player_id, cur >= s.action_energy_cost)
                .values(
                    energy=cur - s.action_energy_cost,
                    energy_at=at,
                    coins=p.c.coins + s.action_coins,
                    xp=p.c.xp + s.action_xp,
                )
                .returning(p)
            )
        ).one_or_none()
        if row is None:
            await _raise_missing_or(conn, player_id, conflict("no_energy", "not enough energy; wait for it to refill"))
        await conn.execute(
            sa.insert(ledger).values(
                player_id=player_id, delta=s.action_coins, balance_after=row.coins, reason="action", op_key=op_key
            )
        )
        return 200, {
            "coins_earned": s.action_coins,
            "xp_earned": s.action_xp,
            "energy_spent": s.action_energy_cost,
            "player": player_view(row, s, now),
        }

    return handler


def buy_energy_handler(s: Settings, player_id: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        now = clock.now_ms()
        cur, at = _energy_exprs(s, now)
        row = (
            await conn.execute(
                sa.update(p)
                .where(p.c.id == player_id, p.c.coins >= s.energy_pack_price)
                .values(coins=p.c.coins - s.energy_pack_price, energy=cur + s.energy_pack_amount, energy_at=at)
                .returning(p)
            )
        ).one_or_none()
        if row is None:
            await _raise_missing_or(conn, player_id, conflict("insufficient_coins", "not enough coins"))
        await conn.execute(
            sa.insert(ledger).values(
                player_id=player_id,
                delta=-s.energy_pack_price,
                balance_after=row.coins,
                reason="energy_pack",
                op_key=op_key,
            )
        )
        return 200, {"coins_spent": s.energy_pack_price, "energy_added": s.energy_pack_amount, "player": player_view(row, s, now)}

    return handler


async def _raise_missing_or(conn: AsyncConnection, player_id: int, err: GameError):
    exists = (await conn.execute(sa.select(p.c.id).where(p.c.id == player_id))).first()
    raise err if exists else not_found("player")


def daily_handler(s: Settings, player_id: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        day = clock.today()
        got = (
            await conn.execute(
                _insert(conn, daily_rewards)
                .values(player_id=player_id, day=day, coins=s.daily_reward_coins)
                .on_conflict_do_nothing()
                .returning(daily_rewards.c.day)
            )
        ).first()
        if got is None:
            raise conflict("already_claimed", "the daily reward was already claimed today (UTC)")
        coins = await _credit(conn, player_id, s.daily_reward_coins, "daily_reward", f"daily:{day.isoformat()}")
        return 200, {"coins_earned": s.daily_reward_coins, "coins": coins, "day": day.isoformat()}

    return handler


# ---------------------------------------------------------------- friends
async def _are_friends(conn: AsyncConnection, a: int, b: int) -> bool:
    q = sa.select(friends.c.player_id).where(friends.c.player_id == a, friends.c.friend_id == b)
    return (await conn.execute(q)).first() is not None


async def _make_friends(conn: AsyncConnection, a: int, b: int) -> None:
    # rows in a fixed order, so two transactions befriending the same pair never deadlock
    lo, hi = sorted((a, b))
    stmt = _insert(conn, friends).values([{"player_id": lo, "friend_id": hi}, {"player_id": hi, "friend_id": lo}])
    await conn.execute(stmt.on_conflict_do_nothing())
    await conn.execute(
        sa.delete(friend_requests).where(
            sa.or_(
                sa.and_(friend_requests.c.from_id == a, friend_requests.c.to_id == b),
                sa.and_(friend_requests.c.from_id == b, friend_requests.c.to_id == a),
            )
        )
    )


def friend_request_handler(player_id: int, target: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        if target == player_id:
            raise GameError(422, "invalid_friend", "you cannot befriend yourself")
        if (await conn.execute(sa.select(p.c.id).where(p.c.id == target))).first() is None:
            raise not_found("player")
        if await _are_friends(conn, player_id, target):
            raise conflict("already_friends", "you are already friends")
        reverse = (
            await conn.execute(
                sa.select(friend_requests.c.id).where(
                    friend_requests.c.from_id == target, friend_requests.c.to_id == player_id
                )
            )
        ).first()
        if reverse is not None:
            await _make_friends(conn, player_id, target)
            return 200, {"status": "friends", "player_id": target}
        rid = (
            await conn.execute(
                _insert(conn, friend_requests)
                .values(from_id=player_id, to_id=target)
                .on_conflict_do_nothing()
                .returning(friend_requests.c.id)
            )
        ).scalar_one_or_none()
        if rid is None:
            raise conflict("already_requested", "a friend request to this player is already pending")
        return 201, {"status": "requested", "request_id": rid, "player_id": target}

    return handler


def accept_request_handler(player_id: int, request_id: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        from_id = (
            await conn.execute(
                sa.delete(friend_requests)
                .where(friend_requests.c.id == request_id, friend_requests.c.to_id == player_id)
                .returning(friend_requests.c.from_id)
            )
        ).scalar_one_or_none()
        if from_id is None:
            raise not_found("friend request")
        await _make_friends(conn, player_id, from_id)
        return 200, {"status": "friends", "player_id": from_id}

    return handler


async def delete_request(engine: AsyncEngine, player_id: int, request_id: int) -> None:
    async with engine.begin() as conn:
        r = await conn.execute(
            sa.delete(friend_requests).where(
                friend_requests.c.id == request_id,
                sa.or_(friend_requests.c.to_id == player_id, friend_requests.c.from_id == player_id),
            )
        )
        if r.rowcount == 0:
            raise not_found("friend request")


async def remove_friend(engine: AsyncEngine, player_id: int, friend_id: int) -> None:
    async with engine.begin() as conn:
        r = await conn.execute(
            sa.delete(friends).where(
                sa.or_(
                    sa.and_(friends.c.player_id == player_id, friends.c.friend_id == friend_id),
                    sa.and_(friends.c.player_id == friend_id, friends.c.friend_id == player_id),
                )
            )
        )
        if r.rowcount == 0:
            raise not_found("friend")


def _public(row: Any, s: Settings) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "level": level_of(row.xp, s.xp_per_level),
        "xp": row.xp,
        "avatar_url": public_url(row.avatar_key) if row.avatar_key else None,
    }


async def public_profile(engine: AsyncEngine, s: Settings, player_id: int) -> dict:
    async with _reader(engine).connect() as conn:
        row = (await conn.execute(sa.select(p).where(p.c.id == player_id))).one_or_none()
    if row is None:
        raise not_found("player")
    return _public(row, s)


async def list_friends(engine: AsyncEngine, s: Settings, player_id: int) -> dict:
    today = clock.today()
    sent_today = (
        sa.select(sa.literal(1))
        .where(gifts.c.sender_id == player_id, gifts.c.recipient_id == p.c.id, gifts.c.day == today)
        .exists()
    )
    async with _reader(engine).connect() as conn:
        fr = await conn.execute(
            sa.select(p, sent_today.label("gift_sent_today"))
            .join(friends, friends.c.friend_id == p.c.id)
            .where(friends.c.player_id == player_id)
            .order_by(p.c.name, p.c.id)
        )
        friends_list = [{**_public(r, s), "gift_sent_today": bool(r.gift_sent_today)} for r in fr]
        inc = await conn.execute(
            sa.select(friend_requests.c.id.label("request_id"), p)
            .join(p, p.c.id == friend_requests.c.from_id)
            .where(friend_requests.c.to_id == player_id)
            .order_by(friend_requests.c.id)
        )
        incoming = [{"request_id": r.request_id, "player": _public(r, s)} for r in inc]
        out = await conn.execute(
            sa.select(friend_requests.c.id.label("request_id"), p)
            .join(p, p.c.id == friend_requests.c.to_id)
            .where(friend_requests.c.from_id == player_id)
            .order_by(friend_requests.c.id)
        )
        outgoing = [{"request_id": r.request_id, "player": _public(r, s)} for r in out]
    return {"friends": friends_list, "incoming_requests": incoming, "outgoing_requests": outgoing}


async def import_facebook_friends(engine: AsyncEngine, player_id: int, fb_ids: list[str]) -> list[int]:
    if not fb_ids:
        return []
    added: list[int] = []
    async with engine.begin() as conn:
        rows = await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id.in_(fb_ids), p.c.id != player_id))
        for (fid,) in rows.all():
            if not await _are_friends(conn, player_id, fid):
                await _make_friends(conn, player_id, fid)
                added.append(fid)
    return added


# ---------------------------------------------------------------- gifts
def send_gift_handler(s: Settings, player_id: int, to_id: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        if not await _are_friends(conn, player_id, to_id):
            raise not_found("friend")
        # lock sender and recipient rows, in id order (no deadlock between two players
        # gifting each other); the sender's per-day count below is then race-free
        await conn.execute(
            sa.select(p.c.id).where(p.c.id.in_((player_id, to_id))).order_by(p.c.id).with_for_update()
        )
        day = clock.today()
        sent = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(gifts).where(gifts.c.sender_id == player_id, gifts.c.day == day)
            )
        ).scalar_one()
        if sent >= s.gifts_per_day:
            raise GameError(429, "gift_limit", f"you can send {s.gifts_per_day} gifts per day")
        gid = (
            await conn.execute(
                _insert(conn, gifts)
                .values(sender_id=player_id, recipient_id=to_id, day=day, coins=s.gift_coins)
                .on_conflict_do_nothing()
                .returning(gifts.c.id)
            )
        ).scalar_one_or_none()
        if gid is None:
            raise conflict("already_gifted", "you already sent this friend a gift today")
        await conn.execute(sa.update(p).where(p.c.id == to_id).values(gifts_waiting=p.c.gifts_waiting + 1))
        return 201, {"gift_id": gid, "to_player_id": to_id, "coins": s.gift_coins}

    return handler


def claim_gift_handler(player_id: int, gift_id: int) -> Handler:
    async def handler(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        row = (
            await conn.execute(
                sa.update(gifts)
                .where(gifts.c.id == gift_id, gifts.c.recipient_id == player_id, gifts.c.claimed_at.is_(None))
                .values(claimed_at=clock.utcnow())
                .returning(gifts.c.coins, gifts.c.sender_id)
            )
        ).one_or_none()
        if row is None:
            mine = (
                await conn.execute(
                    sa.select(gifts.c.id).where(gifts.c.id == gift_id, gifts.c.recipient_id == player_id)
                )
            ).first()
            if mine is None:
                raise not_found("gift")
            raise conflict("already_claimed", "this gift was already claimed")
        coins = await _credit(conn, player_id, row.coins, "gift", f"gift:{gift_id}", gift_claimed=True)
        return 200, {"gift_id": gift_id, "coins_earned": row.coins, "coins": coins}

    return handler


async def inbox(engine: AsyncEngine, s: Settings, player_id: int, limit: int) -> list[dict]:
    q = (
        sa.select(gifts.c.id, gifts.c.coins, gifts.c.created_at, gifts.c.claimed_at, p.c.id.label("sender_id"), p.c.name)
        .join(p, p.c.id == gifts.c.sender_id)
        .where(gifts.c.recipient_id == player_id)
        .order_by(gifts.c.claimed_at.is_not(None), gifts.c.id.desc())
        .limit(limit)
    )
    async with _reader(engine).connect() as conn:
        rows = await conn.execute(q)
        return [
            {
                "id": r.id,
                "coins": r.coins,
                "from": {"id": r.sender_id, "name": r.name},
                "sent_at": r.created_at,
                "claimed": r.claimed_at is not None,
            }
            for r in rows
        ]


# ---------------------------------------------------------------- leaderboard
async def leaderboard(engine: AsyncEngine, s: Settings, player_id: int, scope: str, limit: int, offset: int) -> dict:
    q = sa.select(p).order_by(p.c.xp.desc(), p.c.id).limit(limit + 1).offset(offset)
    if scope == "friends":
        mine = sa.select(friends.c.friend_id).where(friends.c.player_id == player_id)
        q = q.where(sa.or_(p.c.id == player_id, p.c.id.in_(mine)))
    async with _reader(engine).connect() as conn:
        rows = (await conn.execute(q)).all()
    items = [{"rank": offset + i + 1, **_public(r, s)} for i, r in enumerate(rows[:limit])]
    return {"scope": scope, "items": items, "next_offset": offset + limit if len(rows) > limit else None}


# ---------------------------------------------------------------- avatars
async def set_avatar(engine: AsyncEngine, player_id: int, key: str) -> str | None:
    """Point the player at a verified avatar; return the previous key."""
    async with engine.begin() as conn:
        old = (
            await conn.execute(sa.select(p.c.avatar_key).where(p.c.id == player_id).with_for_update())
        ).one_or_none()
        if old is None:
            raise not_found("player")
        await conn.execute(sa.update(p).where(p.c.id == player_id).values(avatar_key=key))
    return old.avatar_key


# ---------------------------------------------------------------- data deletion
async def start_deletion(engine: AsyncEngine, fb_user_id: str) -> tuple[str, int | None]:
    """Delete the player's rows and record a pending request; storage is cleaned next."""
    code = secrets.token_hex(12)
    async with engine.begin() as conn:
        pid = (
            await conn.execute(sa.delete(p).where(p.c.fb_user_id == fb_user_id).returning(p.c.id))
        ).scalar_one_or_none()
        await conn.execute(
            sa.insert(deletion_requests).values(code=code, player_id=pid, status="pending", requested_at=clock.utcnow())
        )
    return code, pid


async def finish_deletion(engine: AsyncEngine, code: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(deletion_requests)
            .where(deletion_requests.c.code == code, deletion_requests.c.status == "pending")
            .values(status="completed", completed_at=clock.utcnow())
        )


async def get_deletion(engine: AsyncEngine, code: str) -> Any:
    async with _reader(engine).connect() as conn:
        return (await conn.execute(sa.select(deletion_requests).where(deletion_requests.c.code == code))).one_or_none()


def iso(d: dt.datetime | None) -> str | None:
    return d.isoformat() if d else None


# ---------------------------------------------------------------- PostgreSQL one-statement writes
# The hot writes as ONE statement each (data-modifying CTEs), run in autocommit: the rate
# limit counter, the conditional balance/energy update and the ledger row commit together
# or not at all, in a single round trip. Used on PostgreSQL when no Idempotency-Key is sent
# (with a key, run_write stores the response in the same transaction instead).

_RL_CTE = """rl AS (
  INSERT INTO rate_limits (player_id, window_start, count) VALUES (:pid, :win, 1)
  ON CONFLICT (player_id) DO UPDATE SET
    count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END,
    window_start = excluded.window_start
  RETURNING count
)"""
_TICKS = "(CASE WHEN :now - energy_at > 0 THEN (:now - energy_at) / :refill ELSE 0 END)"
_CUR = f"(CASE WHEN energy >= :cap THEN energy WHEN energy + {_TICKS} >= :cap THEN :cap ELSE energy + {_TICKS} END)"
_AT = f"(CASE WHEN energy >= :cap OR energy + {_TICKS} >= :cap THEN :now ELSE energy_at + {_TICKS} * :refill END)"
_PLAYER_COLS = "id, name, fb_user_id, coins, energy, energy_at, xp, avatar_key"

_ACT_SQL = sa.text(f"""
WITH {_RL_CTE},
upd AS (
  UPDATE players SET energy = {_CUR} - :cost, energy_at = {_AT}, coins = coins + :coins, xp = xp + :xp
  WHERE id = :pid AND {_CUR} >= :cost AND (SELECT count FROM rl) <= :limit
  RETURNING {_PLAYER_COLS}
),
led AS (
  INSERT INTO ledger (player_id, delta, balance_after, reason, op_key)
  SELECT id, :coins, coins, 'action', :op_key FROM upd
)
SELECT (SELECT count FROM rl) AS rl_count, upd.* FROM (SELECT 1) AS one LEFT JOIN upd ON true
""")

_CLAIM_SQL = sa.text(f"""
WITH {_RL_CTE},
claim AS (
  UPDATE gifts SET claimed_at = :ts
  WHERE id = :gid AND recipient_id = :pid AND claimed_at IS NULL AND (SELECT count FROM rl) <= :limit
  RETURNING coins
),
credit AS (
  UPDATE players SET coins = players.coins + claim.coins, gifts_waiting = players.gifts_waiting - 1
  FROM claim WHERE players.id = :pid
  RETURNING players.id, players.coins, claim.coins AS earned
),
led AS (
  INSERT INTO ledger (player_id, delta, balance_after, reason, op_key)
  SELECT id, earned, coins, 'gift', :op_key FROM credit
)
SELECT (SELECT count FROM rl) AS rl_count, credit.coins, credit.earned FROM (SELECT 1) AS one LEFT JOIN credit ON true
""")


def _rl_params(s: Settings, player_id: int) -> dict:
    return {
        "pid": player_id,
        "win": clock.now_ms() // (s.rate_limit_window_seconds * 1000),
        "limit": s.rate_limit_writes,
    }


def fast_path(engine: AsyncEngine, idem_key: str | None) -> bool:
    return idem_key is None and engine.dialect.name == "postgresql"


@_gone_player_is_404
async def act_fast(engine: AsyncEngine, s: Settings, player_id: int) -> tuple[int, dict]:
    now = clock.now_ms()
    params = {
        **_rl_params(s, player_id),
        "now": now,
        "refill": s.energy_refill_seconds * 1000,
        "cap": s.energy_cap,
        "cost": s.action_energy_cost,
        "coins": s.action_coins,
        "xp": s.action_xp,
        "op_key": f"action:{uuid.uuid4().hex}",
    }
    async with _reader(engine).connect() as conn:
        row = (await conn.execute(_ACT_SQL, params)).one()
        if row.rl_count > s.rate_limit_writes:
            raise _rate_limited(s)
        if row.id is None:
            await _raise_missing_or(conn, player_id, conflict("no_energy", "not enough energy; wait for it to refill"))
    return 200, {
        "coins_earned": s.action_coins,
        "xp_earned": s.action_xp,
        "energy_spent": s.action_energy_cost,
        "player": player_view(row, s, now),
    }


@_gone_player_is_404
async def claim_gift_fast(engine: AsyncEngine, s: Settings, player_id: int, gift_id: int) -> tuple[int, dict]:
    params = {**_rl_params(s, player_id), "gid": gift_id, "ts": clock.utcnow(), "op_key": f"gift:{gift_id}"}
    async with _reader(engine).connect() as conn:
        row = (await conn.execute(_CLAIM_SQL, params)).one()
        if row.rl_count > s.rate_limit_writes:
            raise _rate_limited(s)
        if row.coins is None:
            mine = (
                await conn.execute(
                    sa.select(gifts.c.id).where(gifts.c.id == gift_id, gifts.c.recipient_id == player_id)
                )
            ).first()
            if mine is None:
                raise not_found("gift")
            raise conflict("already_claimed", "this gift was already claimed")
    return 200, {"gift_id": gift_id, "coins_earned": row.earned, "coins": row.coins}
