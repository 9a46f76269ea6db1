"""The write machinery: rate limit, Idempotency-Key, ledger rows, one transaction per write.

Every write runs through :func:`run_write`, which checks the session, counts the write
against the player's budget and, with an Idempotency-Key, claims the key, then runs the
:class:`Write`'s ``steps`` in one transaction. The other authenticated writes (a rename, a
sign-out, a removal, an avatar, a Facebook link or import) are checked and counted against the
same budget by :func:`count_session_write` before they run (``api.deps.Me`` calls it for
every method but GET and HEAD).

The hot writes (an action, an energy pack, a gift claim) are defined once, as a
:class:`Chain` of conditional statements; their steps run it (on PostgreSQL as one
statement of data-modifying CTEs, on SQLite part by part). On PostgreSQL, without an
Idempotency-Key, run_write sends that one statement in autocommit instead, with the session
check and the rate-limit counter as one more CTE that gates the write: counter, balance
update and ledger row commit together or not at all, in a single round trip. With an
Idempotency-Key (every write of the page carries one), the same statement also claims the key
(and prunes the player's expired keys), and the answer is stored under the key before the
commit: BEGIN, two statements, COMMIT, instead of a statement per step.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service import rules
from game_service.core import clock
from game_service.core.config import Settings
from game_service.core.db import execute_one, fetch_one
from game_service.repository.events import announce
from game_service.errors import GameError, not_found
from game_service.models import idempotency_keys, ledger, players, rate_limits, signup_limits
from game_service.core.security import Session

p = players

# Named parameters shared by the statements of this package (one namespace per statement).
PID = sa.bindparam("pid", type_=sa.BigInteger)
NOW = sa.bindparam("now", type_=sa.BigInteger)
OP_KEY = sa.bindparam("op_key", type_=sa.String)

# the columns a write returns to build the player's view (rules.player_view)
PLAYER_COLS = (p.c.id, p.c.name, p.c.fb_user_id, p.c.coins, p.c.energy, p.c.energy_at, p.c.xp, p.c.avatar_key)


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool in autocommit mode: one-statement reads and writes need no BEGIN/COMMIT."""
    holder = engine.sync_engine  # AsyncEngine has __slots__; its sync engine takes attributes
    auto = getattr(holder, "_game_autocommit", None)
    if auto is None:
        auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        holder._game_autocommit = auto  # type: ignore[attr-defined]
    return auto


def insert_for(dialect: str, table: sa.Table):
    """INSERT with ON CONFLICT support for the dialect (PostgreSQL, or SQLite for local play)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# ---------------------------------------------------------------- the rate-limit counter
def _window_counter(dialect: str, table: sa.Table, key: sa.Column, key_param: sa.BindParameter,
                    only_if: sa.ColumnElement[bool] | None = None):
    """The fixed-window counter, defined once (the write budget and the sign-up limit): count
    one event of ``key`` in window ``:win`` (a new window starts again at 1); RETURNING the
    window's count. With ``only_if``, the event is counted (and a row returned) only where
    that condition holds."""
    values = {key.name: key_param, "window_start": sa.bindparam("win", type_=sa.BigInteger), "count": 1}
    if only_if is None:
        stmt = insert_for(dialect, table).values(values)
    else:
        stmt = insert_for(dialect, table).from_select(
            list(values), sa.select(*(sa.literal(v) if isinstance(v, int) else v for v in values.values()))
            .where(only_if)
        )
    return stmt.on_conflict_do_update(
        index_elements=[key],
        set_={
            "count": sa.case((table.c.window_start == stmt.excluded.window_start, table.c.count + 1), else_=1),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(table.c.count)


# Count one write of player ``:pid`` in window ``:win``.
RATE_LIMIT = {d: _window_counter(d, rate_limits, rate_limits.c.player_id, PID) for d in ("postgresql", "sqlite")}


def rate_limit_params(s: Settings, player_id: int, now: int) -> dict:
    return {"pid": player_id, "win": rules.rate_window(now, s), "limit": s.rate_limit_writes}


async def count_write(conn: AsyncConnection, s: Settings, player_id: int) -> int:
    params = rate_limit_params(s, player_id, clock.now_ms())
    return (await conn.execute(RATE_LIMIT[conn.dialect.name], params)).scalar_one()


def rate_limited(s: Settings) -> GameError:
    return GameError(
        429,
        "rate_limited",
        "too many write requests; slow down",
        headers={"Retry-After": str(rules.retry_after_seconds(clock.now_ms(), s))},
    )


# ---------------------------------------------------------------- the ledger
def ledger_entry(player_id: Any, delta: Any, balance_after: Any, reason: str, op_key: Any = OP_KEY) -> sa.Insert:
    """The ledger row of one balance change; arguments may be values or column expressions
    (of the CTE that changed the balance)."""
    def sql(v: Any) -> Any:
        if isinstance(v, sa.ColumnElement):
            return v
        return sa.literal(v, sa.String if isinstance(v, str) else sa.BigInteger)

    return sa.insert(ledger).from_select(
        ["player_id", "delta", "balance_after", "reason", "op_key"],
        sa.select(*(sql(v) for v in (player_id, delta, balance_after, reason, op_key))),
    )


# ---------------------------------------------------------------- writes
Steps = Callable[[AsyncConnection, str], Awaitable[tuple[int, dict]]]
Part = Callable[[Any], sa.UpdateBase]


@dataclass(frozen=True)
class Chain:
    """A write's statements, defined once: ``first(gate)`` changes a row only where
    ``gate`` is true, and each of ``then`` is built from the row the part before it
    returned (its argument's ``.c``); ``result`` is the part whose row the write answers.

    On PostgreSQL the parts are the data-modifying CTEs of ONE statement (each part reads
    the CTE before it); elsewhere (SQLite) they run one by one, each reading the row
    before it as parameters. The statements are built once per chain."""

    first: Part
    then: tuple[Part, ...] = ()
    result: int = 0


class _Given:
    """The row a part returned, as parameters of the next part's statement (``.c.<column>``)."""

    def __init__(self, stmt: sa.UpdateBase, index: int):
        self.c = SimpleNamespace(**{
            c.key: sa.bindparam(f"p{index}_{c.key}", type_=c.type) for c in stmt.exported_columns
        })


def _one_statement(chain: Chain, gate: Any) -> sa.Select:
    """The chain as one statement of data-modifying CTEs (PostgreSQL); its row is the
    ``result`` part's (none when the write did not happen)."""
    parts = [chain.first(gate).cte("c0")]
    for i, part in enumerate(chain.then, 1):
        parts.append(part(parts[-1]).cte(f"c{i}"))
    return sa.select(parts[chain.result]).add_cte(*parts)


@functools.lru_cache(maxsize=None)
def _ungated(chain: Chain) -> sa.Select:
    return _one_statement(chain, sa.true())


@functools.lru_cache(maxsize=None)
def _statements(chain: Chain) -> list[sa.UpdateBase]:
    """The chain as statements to run one by one (ungated)."""
    stmts = [chain.first(sa.true())]
    for i, part in enumerate(chain.then):
        stmts.append(part(_Given(stmts[-1], i)))
    return stmts


async def run_chain(conn: AsyncConnection, chain: Chain, params: dict) -> Any:
    """Run ``chain`` inside the caller's transaction; return the ``result`` part's row, or
    None when the write did not happen (a part changed no row)."""
    if conn.dialect.name == "postgresql":
        return (await conn.execute(_ungated(chain), params)).first()
    rows: list = []
    for i, stmt in enumerate(_statements(chain)):
        given = {f"p{i - 1}_{k}": v for k, v in rows[-1]._mapping.items()} if rows else {}
        result = await conn.execute(stmt, {**params, **given})
        if result.returns_rows:
            row = result.first()
            if row is None:
                return None
            rows.append(row)
    return rows[chain.result]


Finish = Callable[[AsyncConnection, Any], Awaitable[tuple[int, dict]]]


@dataclass
class Write:
    """One write: ``op`` names it (the ledger's op_key); ``steps(conn, op_key)`` does it
    inside run_write's transaction and returns ``(status, body)`` or raises a GameError.

    A write that is a :class:`Chain` (:meth:`of_chain`) keeps its chain, params and
    ``finish``: its steps are derived from them, and on PostgreSQL an unkeyed one runs as
    the chain's one statement behind the session check and the rate-limit counter."""

    op: str
    steps: Steps
    chain: Chain | None = None
    params: dict | None = None
    finish: Finish | None = None
    # A write whose answer carries a secret (a recovery code) keeps no copy of it: its
    # Idempotency-Key stores this refusal instead, and a replay answers it.
    secret_replay: GameError | None = None

    @classmethod
    def of_chain(cls, op: str, chain: Chain, params: dict, finish: Finish) -> Write:
        """``params`` are the chain's (``op_key`` defaults to run_write's); ``finish(conn,
        row)`` turns the result row (None when the write did not happen) into
        ``(status, body)`` or raises."""

        async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
            return await finish(conn, await run_chain(conn, chain, {"op_key": op_key, **params}))

        return cls(op, steps, chain, params, finish)


def gone_player_is_404(fn):
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


async def player_exists(engine: AsyncEngine, player_id: int) -> bool:
    async with reader(engine).connect() as conn:
        return (await conn.execute(sa.select(p.c.id).where(p.c.id == player_id))).first() is not None


# ---------------------------------------------------------------- session generations
GEN = sa.bindparam("gen", type_=sa.BigInteger)
_SESSION_GEN = sa.select(p.c.session_gen).where(p.c.id == PID)


async def session_generation(engine: AsyncEngine, player_id: int) -> int | None:
    """The player's current session-token generation; None when the player does not exist
    (a statement of its own, for the routes whose statements do not read it themselves)."""
    row = await fetch_one(reader(engine), _SESSION_GEN, {"pid": player_id})
    return None if row is None else row[0]


async def next_session_generation(engine: AsyncEngine, player_id: int) -> int | None:
    """Move the player's token generation on (revoking every token issued before); return
    the new one, or None when the player does not exist. The player's live streams hear of it
    and end (``session_ended``)."""
    async with engine.begin() as conn:
        gen = (
            await conn.execute(
                sa.update(p).where(p.c.id == player_id).values(session_gen=p.c.session_gen + 1)
                .returning(p.c.session_gen)
            )
        ).scalar_one_or_none()
        if gen is not None:
            await announce(conn, player_id, "session_ended", None)
        return gen


# ---------------------------------------------------------------- guest sign-ups per address
# Count one sign-up from ``:address`` in window ``:win``.
SIGNUP = {
    d: _window_counter(d, signup_limits, signup_limits.c.address, sa.bindparam("address", type_=sa.String))
    for d in ("postgresql", "sqlite")
}


async def count_signup(engine: AsyncEngine, s: Settings, address: str) -> None:
    """Count a guest sign-up from ``address`` (one atomic upsert, refused ones included);
    raise 429 when the address is over its limit for the current window."""
    now = clock.now_ms()
    window = s.signup_limit_window_seconds
    async with reader(engine).connect() as conn:
        params = {"address": address, "win": rules.window_number(now, window)}
        count = (await conn.execute(SIGNUP[conn.dialect.name], params)).scalar_one()
    if count > s.signup_limit_per_address:
        raise GameError(
            429, "signup_limited", "too many new players from this address; try again later",
            headers={"Retry-After": str(rules.window_retry_after(now, window))},
        )


async def raise_missing_or(conn: AsyncConnection, player_id: int, err: GameError):
    """A conditional write changed nothing: the player is gone (404) or the condition failed."""
    exists = (await conn.execute(sa.select(p.c.id).where(p.c.id == player_id))).first()
    raise err if exists else not_found("player")


# Count one write of player ``:pid`` in window ``:win``, only while token generation ``:gen``
# is the player's current one: a refused session (signed out, or the player deleted) counts
# nothing and writes nothing.
_SESSION_OK = sa.exists().where(p.c.id == PID, p.c.session_gen == GEN)
_SESSION_RATE_LIMIT = _window_counter("postgresql", rate_limits, rate_limits.c.player_id, PID, only_if=_SESSION_OK)


def _session_budget() -> sa.Select:
    """The session check and the rate-limit counter alone, in one statement (PostgreSQL): the
    player's current token generation (``gen``) and the window's count (``rl_count``, NULL
    when the session was refused and nothing was counted)."""
    rl = _SESSION_RATE_LIMIT.cte("rl")
    return sa.select(_SESSION_GEN.scalar_subquery().label("gen"),
                     sa.select(rl.c.count).scalar_subquery().label("rl_count")).add_cte(rl)


_SESSION_BUDGET = _session_budget()


async def count_session_write(engine: AsyncEngine, s: Settings, session: Session) -> None:
    """Check ``session`` and count one write of its player against the write budget, for a
    write that does not run through :func:`run_write` (a rename, a sign-out, a removal, ...):
    the 401 of ``Session.check`` (counting nothing), or the 429 once the budget is spent."""
    params = {**rate_limit_params(s, session.player_id, clock.now_ms()), "gen": session.generation}
    if engine.dialect.name == "postgresql":
        row = await fetch_one(reader(engine), _SESSION_BUDGET, params)
        session.check(row.gen)
        count = row.rl_count
    else:
        async with engine.begin() as conn:
            session.check((await conn.execute(_SESSION_GEN, params)).scalar_one_or_none())
            count = await count_write(conn, s, session.player_id)
    if count > s.rate_limit_writes:
        raise rate_limited(s)


@functools.lru_cache(maxsize=None)
def _gated(chain: Chain) -> sa.Select:
    """``chain``'s one statement behind the session check and the rate-limit counter
    (PostgreSQL), built once: its row says the player's current token generation (``gen``),
    the window's count (``rl_count``, NULL when the session was refused), then the write's
    own columns (NULL when it did not happen)."""
    rl = _SESSION_RATE_LIMIT.cte("rl")
    count = sa.select(rl.c.count).scalar_subquery()
    inner = _one_statement(chain, count <= sa.bindparam("limit", type_=sa.Integer)).subquery("w")
    return sa.select(
        _SESSION_GEN.scalar_subquery().label("gen"), count.label("rl_count"), inner,
    ).select_from(
        sa.select(sa.literal(1).label("one")).subquery("one").outerjoin(inner, sa.true())
    ).add_cte(rl)


# ---------------------------------------------------------------- Idempotency-Keys
_k = idempotency_keys
KEY = sa.bindparam("idem_key", type_=sa.String)
FINGERPRINT = sa.bindparam("fingerprint", type_=sa.String)
KEY_AT = sa.bindparam("key_at", type_=sa.DateTime(timezone=True))
KEYS_EXPIRED = sa.bindparam("keys_expired", type_=sa.DateTime(timezone=True))


# Keys are remembered for a day (like most payment APIs). Claiming one and pruning the player's
# expired others are each defined once, for both paths of run_write.
def _claim(dialect: str, only_if: sa.ColumnElement[bool]) -> sa.Insert:
    """Claim key ``:idem_key`` of player ``:pid`` where ``only_if`` holds: a new row, or a row
    whose day has passed taken over afresh; RETURNING the key when claimed, nothing when a
    live row holds it (PostgreSQL waits for a request holding it uncommitted first)."""
    stmt = insert_for(dialect, _k).from_select(
        ["player_id", "key", "fingerprint", "created_at"], sa.select(PID, KEY, FINGERPRINT, KEY_AT).where(only_if))
    return stmt.on_conflict_do_update(
        index_elements=[_k.c.player_id, _k.c.key],
        set_={"fingerprint": stmt.excluded.fingerprint, "created_at": stmt.excluded.created_at,
              "status_code": sa.null(), "response": sa.null()},
        where=_k.c.created_at < KEYS_EXPIRED,
    ).returning(_k.c.key)


def _prune(only_if: sa.ColumnElement[bool]) -> sa.Delete:
    """Delete player ``:pid``'s expired keys but ``:idem_key`` (which a claim takes over), where
    ``only_if`` holds."""
    return sa.delete(_k).where(_k.c.player_id == PID, _k.c.key != KEY, _k.c.created_at < KEYS_EXPIRED, only_if)


_CLAIM = {d: _claim(d, sa.true()) for d in ("postgresql", "sqlite")}
_PRUNE = _prune(sa.true())


@functools.lru_cache(maxsize=None)
def _gated_keyed(chain: Chain) -> sa.Select:
    """:func:`_gated` with an Idempotency-Key (PostgreSQL), built once: the key is claimed
    only within the budget, and the write happens only if the key was claimed. The row also
    says ``claimed`` (NULL when a live row held the key: a replay). The player's other
    expired keys are pruned (for a valid session only)."""
    rl = _SESSION_RATE_LIMIT.cte("rl")
    count = sa.select(rl.c.count).scalar_subquery()
    within = count <= sa.bindparam("limit", type_=sa.Integer)
    claim = _claim("postgresql", within).cte("claim")
    claimed = sa.select(claim.c.key).scalar_subquery()
    pruned = _prune(_SESSION_OK).returning(_k.c.key).cte("pruned")
    inner = _one_statement(chain, sa.and_(within, claimed.is_not(None))).subquery("w")
    return sa.select(
        _SESSION_GEN.scalar_subquery().label("gen"), count.label("rl_count"), claimed.label("claimed"), inner,
    ).select_from(
        sa.select(sa.literal(1).label("one")).subquery("one").outerjoin(inner, sa.true())
    ).add_cte(rl, claim, pruned)


def _key_times() -> dict:
    """A key's creation time, and the time before which keys are expired (a day)."""
    now = clock.utcnow()
    return {"key_at": now, "keys_expired": now - dt.timedelta(hours=rules.IDEMPOTENCY_TTL_HOURS)}


async def _run_keyed(conn: AsyncConnection, s: Settings, session: Session, write: Write, params: dict,
                     idem_key: str, fingerprint: str) -> tuple[int, dict]:
    """A chain write with an Idempotency-Key on PostgreSQL, inside the caller's transaction:
    the one statement of :func:`_gated_keyed`, then the answer stored under the key. A
    refusal (the budget, the write's own, a replay of a refusal or of another request's
    key) is raised after the key is let go, so that the counter still commits."""
    row = await execute_one(conn, _gated_keyed(write.chain), {
        **params, "idem_key": idem_key, "fingerprint": fingerprint, **_key_times()})
    session.check(row.gen)
    if row.rl_count > s.rate_limit_writes:
        raise rate_limited(s)
    if row.claimed is None:
        return await _stored_answer(conn, session.player_id, idem_key, fingerprint)
    try:
        status, body = await write.finish(conn, row if row[3] is not None else None)
    except GameError:
        await conn.execute(sa.delete(_k).where(_k.c.player_id == session.player_id, _k.c.key == idem_key))
        raise
    await _store_answer(conn, session.player_id, idem_key, write, status, body)
    return status, body


@gone_player_is_404
async def run_write(
    engine: AsyncEngine, s: Settings, session: Session, write: Write, idem_key: str | None, fingerprint: str
) -> tuple[int, dict]:
    """Check ``session`` and run one write with rate limiting and idempotency; return
    ``(status_code, body)``.

    ``write.steps`` gets the connection and an ``op_key`` that is unique per logical
    operation (derived from the Idempotency-Key when the client sent one); a
    :class:`GameError` rolls the write back (the refused write still counts; a refused
    session counts nothing).
    """
    player_id = session.player_id
    now = clock.now_ms()
    op_key = rules.op_key(write.op, idem_key, now)
    if write.chain is not None and engine.dialect.name == "postgresql":
        params = {"op_key": op_key, **write.params, **rate_limit_params(s, player_id, now), "gen": session.generation}
        if idem_key is not None:
            async with engine.begin() as conn:
                try:
                    return await _run_keyed(conn, s, session, write, params, idem_key, fingerprint)
                except GameError as exc:
                    refusal = exc  # raised once the counter has committed
            raise refusal
        async with reader(engine).connect() as conn:
            row = await execute_one(conn, _gated(write.chain), params)
            session.check(row.gen)
            if row.rl_count > s.rate_limit_writes:
                raise rate_limited(s)
            return await write.finish(conn, row if row[2] is not None else None)
    # The counter increment and the write commit together; a refused write (over the
    # budget, or a GameError from the write) rolls back to a savepoint taken after the
    # increment, and the increment still commits: refused writes count in the same step.
    async with engine.begin() as conn:
        session.check((await conn.execute(_SESSION_GEN, {"pid": player_id})).scalar_one_or_none())
        if await count_write(conn, s, player_id) > s.rate_limit_writes:
            refusal: GameError = rate_limited(s)
        else:
            try:
                async with conn.begin_nested():
                    return await _steps(conn, player_id, write, op_key, idem_key, fingerprint)
            except GameError as exc:
                refusal = exc
    raise refusal


async def _steps(
    conn: AsyncConnection, player_id: int, write: Write, op_key: str, idem_key: str | None, fingerprint: str
) -> tuple[int, dict]:
    """The write itself (and its Idempotency-Key), inside run_write's transaction."""
    if idem_key:
        stored = await _claim_key(conn, player_id, idem_key, fingerprint)
        if stored is not None:
            return stored
    status, body = await write.steps(conn, op_key)
    if idem_key:
        await _store_answer(conn, player_id, idem_key, write, status, body)
    return status, body


_STORE_ANSWER = (
    sa.update(idempotency_keys)
    .where(idempotency_keys.c.player_id == PID, idempotency_keys.c.key == KEY)
    .values(status_code=sa.bindparam("status", type_=sa.Integer), response=sa.bindparam("response", type_=sa.Text))
    .returning(idempotency_keys.c.key)
)


async def _store_answer(conn: AsyncConnection, player_id: int, idem_key: str, write: Write, status: int,
                        body: dict) -> None:
    """The answer a replay of the key gets (a write whose answer carries a secret stores its
    ``secret_replay`` refusal instead)."""
    if write.secret_replay is not None:
        refusal = write.secret_replay
        status, body = refusal.status, {"error": refusal.code, "detail": refusal.message}
    await execute_one(conn, _STORE_ANSWER, {"pid": player_id, "idem_key": idem_key, "status": status,
                                            "response": json.dumps(body, default=str)})


async def _claim_key(conn: AsyncConnection, player_id: int, key: str, fingerprint: str) -> tuple[int, dict] | None:
    """Claim the Idempotency-Key (pruning the player's expired ones); if another request
    with this key committed first (PostgreSQL waited for it), return its stored result instead."""
    params = {"pid": player_id, "idem_key": key, "fingerprint": fingerprint, **_key_times()}
    await conn.execute(_PRUNE, params)
    if (await conn.execute(_CLAIM[conn.dialect.name], params)).first() is not None:
        return None
    return await _stored_answer(conn, player_id, key, fingerprint)


async def _stored_answer(conn: AsyncConnection, player_id: int, key: str, fingerprint: str) -> tuple[int, dict]:
    """The answer stored under a key another request claimed (and committed): its replay, a
    409 if that request was a different one, or the refusal stored in place of a secret."""
    stored = (
        await conn.execute(
            sa.select(idempotency_keys).where(idempotency_keys.c.player_id == player_id, idempotency_keys.c.key == key)
        )
    ).one()
    if stored.fingerprint != fingerprint:
        raise GameError(409, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
    body = json.loads(stored.response)
    if stored.status_code >= 400:  # a refusal stored in place of an answer that carried a secret
        raise GameError(stored.status_code, body["error"], body["detail"])
    return stored.status_code, body
