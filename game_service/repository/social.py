"""Friends, friend requests, gifts and the leaderboard."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service import rules
from game_service.core import clock
from game_service.core.config import Settings
from game_service.errors import GameError, conflict, not_found
from game_service.models import friend_requests, friends, gifts, players
from game_service.repository.economy import credit
from game_service.repository import jobs
from game_service.repository.events import announce
from game_service.repository.jobs import Job
from game_service.repository.writes import PID, Chain, Write, insert_for, ledger_entry, reader

p = players


def _insert(conn: AsyncConnection, table: sa.Table):
    return insert_for(conn.dialect.name, table)


# ---------------------------------------------------------------- friends
async def _are_friends(conn: AsyncConnection, a: int, b: int) -> bool:
    q = sa.select(friends.c.player_id).where(friends.c.player_id == a, friends.c.friend_id == b)
    return (await conn.execute(q)).first() is not None


async def _make_friends(conn: AsyncConnection, a: int, b: int) -> None:
    """``a`` and ``b`` become friends (``a``'s doing: ``b``'s pages hear of it)."""
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
    await announce(conn, b, "friend_added", a)


async def _lock_pair(conn: AsyncConnection, a: int, b: int) -> int:
    """Lock both players' rows, lowest id first: every write between two players (friend
    requests either way, accepts, gifts) queues on the pair in the same order, so two of
    them never deadlock and the later one sees what the earlier one committed. Returns how
    many of the two exist."""
    if conn.dialect.name != "postgresql":  # SQLite (local play) has one writer at a time
        return len((await conn.execute(sa.select(p.c.id).where(p.c.id.in_((a, b))))).all())
    # FOR NO KEY UPDATE: it queues pair writes on each other but not on the key-share locks
    # that foreign-key checks take on player rows (the rate-limit counter's first row, ...)
    rows = await conn.execute(
        sa.select(p.c.id).where(p.c.id.in_((a, b))).order_by(p.c.id).with_for_update(key_share=True)
    )
    return len(rows.all())


async def _pending(conn: AsyncConnection, column: Any, player_id: int) -> int:
    q = sa.select(sa.func.count()).select_from(friend_requests).where(column == player_id)
    return (await conn.execute(q)).scalar_one()


def friend_request(s: Settings, player_id: int, target: int) -> Write:
    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        if target == player_id:
            raise GameError(409, "invalid_friend", "you cannot befriend yourself")
        if await _lock_pair(conn, player_id, target) < 2:
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
        cap = s.friend_requests_pending_max
        if await _pending(conn, friend_requests.c.from_id, player_id) >= cap:
            raise GameError(429, "too_many_requests_sent", f"you have {cap} friend requests waiting for an answer")
        if await _pending(conn, friend_requests.c.to_id, target) >= cap:
            raise GameError(429, "too_many_requests_received",
                            f"this player has {cap} friend requests waiting for an answer")
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
        await announce(conn, target, "friend_request", player_id)
        return 201, {"status": "requested", "request_id": rid, "player_id": target}

    return Write("friend_request", steps)


def accept_request(player_id: int, request_id: int) -> Write:
    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        mine = friend_requests.c.id == request_id, friend_requests.c.to_id == player_id
        from_id = (await conn.execute(sa.select(friend_requests.c.from_id).where(*mine))).scalar_one_or_none()
        if from_id is None:
            raise not_found("friend request")
        await _lock_pair(conn, player_id, from_id)
        # the request may have gone while we waited for the pair (accepted the other way,
        # declined, or its sender deleted)
        if (await conn.execute(sa.delete(friend_requests).where(*mine).returning(friend_requests.c.id))).first() is None:
            if await _are_friends(conn, player_id, from_id):
                return 200, {"status": "friends", "player_id": from_id}
            raise not_found("friend request")
        await _make_friends(conn, player_id, from_id)
        return 200, {"status": "friends", "player_id": from_id}

    return Write("friend_accept", steps)


async def delete_request(engine: AsyncEngine, player_id: int, request_id: int) -> None:
    """Decline (the recipient) or withdraw (the sender) a request; the other hears of it."""
    async with engine.begin() as conn:
        gone = (await conn.execute(
            sa.delete(friend_requests).where(
                friend_requests.c.id == request_id,
                sa.or_(friend_requests.c.to_id == player_id, friend_requests.c.from_id == player_id),
            ).returning(friend_requests.c.from_id, friend_requests.c.to_id)
        )).first()
        if gone is None:
            raise not_found("friend request")
        other = gone.to_id if gone.from_id == player_id else gone.from_id
        await announce(conn, other, "friend_request_closed", player_id)


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
        await announce(conn, friend_id, "friend_removed", player_id)


async def list_friends(engine: AsyncEngine, s: Settings, player_id: int, limit: int, offset: int) -> dict:
    """A page of friends (by name) and the pending requests both ways (each at most
    ``friend_requests_pending_max`` long: the cap keeps them short)."""
    today = clock.today()
    sent_today = (
        sa.select(sa.literal(1))
        .where(gifts.c.sender_id == player_id, gifts.c.recipient_id == p.c.id, gifts.c.day == today)
        .exists()
    )
    async with reader(engine).connect() as conn:
        fr = await conn.execute(
            sa.select(p, sent_today.label("gift_sent_today"))
            .join(friends, friends.c.friend_id == p.c.id)
            .where(friends.c.player_id == player_id)
            .order_by(p.c.name, p.c.id)
            .limit(limit + 1)
            .offset(offset)
        )
        rows = fr.all()
        friends_list = [{**rules.public_player(r, s), "gift_sent_today": bool(r.gift_sent_today)} for r in rows[:limit]]
        next_offset = offset + limit if len(rows) > limit else None
        requests = {}
        for direction, mine, theirs in (("incoming", friend_requests.c.to_id, friend_requests.c.from_id),
                                        ("outgoing", friend_requests.c.from_id, friend_requests.c.to_id)):
            rows = await conn.execute(
                sa.select(friend_requests.c.id.label("request_id"), p)
                .join(p, p.c.id == theirs)
                .where(mine == player_id)
                .order_by(friend_requests.c.id)
                .limit(s.friend_requests_pending_max)
            )
            requests[direction] = [{"request_id": r.request_id, "player": rules.public_player(r, s)} for r in rows]
        incoming, outgoing = requests["incoming"], requests["outgoing"]
    return {"friends": friends_list, "incoming_requests": incoming, "outgoing_requests": outgoing,
            "next_offset": next_offset}


async def import_facebook_friends(engine: AsyncEngine, player_id: int, fb_ids: list[str]) -> list[int]:
    """Befriend the players behind ``fb_ids`` (a local run's import, in the request)."""
    async with engine.begin() as conn:
        return await _befriend_facebook(conn, player_id, fb_ids)


async def finish_friends_import(engine: AsyncEngine, job: Job, fb_ids: list[str]) -> None:
    """The friends import job's effect and its ``done``, in one transaction (the number added
    is its result). Nothing is made when another delivery finished the job first, or when the
    player no longer exists (the job is done, with nobody to befriend)."""
    async with engine.begin() as conn:
        me = (await conn.execute(sa.select(p.c.id).where(p.c.id == job.player_id).with_for_update())).one_or_none()
        if not await jobs.finish(conn, job.id, "done") or me is None:
            return
        added = await _befriend_facebook(conn, job.player_id, fb_ids)
        await jobs.set_result(conn, job.id, str(len(added)))


async def _befriend_facebook(conn: AsyncConnection, player_id: int, fb_ids: list[str]) -> list[int]:
    if not fb_ids:
        return []
    added: list[int] = []
    rows = await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id.in_(fb_ids), p.c.id != player_id).order_by(p.c.id))
    for (fid,) in rows.all():
        if not await _are_friends(conn, player_id, fid):
            await _make_friends(conn, player_id, fid)
            added.append(fid)
    return added


# ---------------------------------------------------------------- gifts
def send_gift(s: Settings, player_id: int, to_id: int) -> Write:
    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        if not await _are_friends(conn, player_id, to_id):
            raise not_found("friend")
        # lock sender and recipient rows, in id order (no deadlock between two players
        # gifting each other); the per-day counts below are then race-free
        await _lock_pair(conn, player_id, to_id)
        day = clock.today()
        sent = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(gifts).where(gifts.c.sender_id == player_id, gifts.c.day == day)
            )
        ).scalar_one()
        if sent >= s.gifts_per_day:
            raise GameError(429, "gift_limit", f"you can send {s.gifts_per_day} gifts per day")
        received = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(gifts).where(gifts.c.recipient_id == to_id, gifts.c.day == day)
            )
        ).scalar_one()
        if received >= s.gifts_received_per_day:
            raise GameError(429, "gift_limit_recipient",
                            f"this friend has received {s.gifts_received_per_day} gifts today; try tomorrow")
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
        await announce(conn, to_id, "gift", player_id)
        return 201, {"gift_id": gid, "to_player_id": to_id, "coins": s.gift_coins}

    return Write("gift_send", steps)


async def inbox(engine: AsyncEngine, s: Settings, player_id: int, limit: int) -> list[dict]:
    q = (
        sa.select(gifts.c.id, gifts.c.coins, gifts.c.created_at, gifts.c.claimed_at, p.c.id.label("sender_id"), p.c.name)
        .join(p, p.c.id == gifts.c.sender_id)
        .where(gifts.c.recipient_id == player_id)
        .order_by(gifts.c.claimed_at.is_not(None), gifts.c.id.desc())
        .limit(limit)
    )
    async with reader(engine).connect() as conn:
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


# ---------------------------------------------------------------- gift claims
GID = sa.bindparam("gid", type_=sa.BigInteger)
TS = sa.bindparam("ts", type_=sa.DateTime(timezone=True))


def _claim(gate: Any) -> sa.Update:
    """Mark gift ``:gid`` of player ``:pid`` claimed, once; RETURNING its coins."""
    return (
        sa.update(gifts)
        .where(gifts.c.id == GID, gifts.c.recipient_id == PID, gifts.c.claimed_at.is_(None), gate)
        .values(claimed_at=TS)
        .returning(gifts.c.coins, gifts.c.recipient_id)
    )


def _pay_claim(claim: Any) -> sa.Update:
    """Credit the claimed gift's coins to its recipient (one fewer gift waiting)."""
    return (
        credit(claim.c.coins, gift_claimed=True)
        .where(claim.c.recipient_id == players.c.id)
        .returning(claim.c.coins.label("earned"))
    )


GIFT_CLAIM = Chain(
    _claim,
    (_pay_claim, lambda paid: ledger_entry(paid.c.id, paid.c.earned, paid.c.coins, "gift")),
    result=1,
)


def claim_gift(player_id: int, gift_id: int) -> Write:
    # a gift pays once, whatever the request: its op_key is the gift's
    params = {"pid": player_id, "gid": gift_id, "ts": clock.utcnow(), "op_key": f"gift:{gift_id}"}

    async def finish(conn: AsyncConnection, row: Any) -> tuple[int, dict]:
        if row is None:
            mine = sa.select(gifts.c.id).where(gifts.c.id == gift_id, gifts.c.recipient_id == player_id)
            if (await conn.execute(mine)).first() is None:
                raise not_found("gift")
            raise conflict("already_claimed", "this gift was already claimed")
        return 200, {"gift_id": gift_id, "coins_earned": row.earned, "coins": row.coins}

    return Write.of_chain("gift_claim", GIFT_CLAIM, params, finish)


# ---------------------------------------------------------------- leaderboard
async def leaderboard(engine: AsyncEngine, s: Settings, player_id: int, scope: str, limit: int, offset: int) -> dict:
    q = sa.select(p).order_by(p.c.xp.desc(), p.c.id).limit(limit + 1).offset(offset)
    if scope == "friends":
        mine = sa.select(friends.c.friend_id).where(friends.c.player_id == player_id)
        q = q.where(sa.or_(p.c.id == player_id, p.c.id.in_(mine)))
    async with reader(engine).connect() as conn:
        rows = (await conn.execute(q)).all()
    items = [{"rank": offset + i + 1, **rules.public_player(r, s)} for i, r in enumerate(rows[:limit])]
    return {"scope": scope, "items": items, "next_offset": offset + limit if len(rows) > limit else None}
