"""Database schema (SQLAlchemy Core tables). Changes go through Alembic migrations."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

players = sa.Table(
    "players",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("fb_user_id", sa.String(64), nullable=True, unique=True),
    sa.Column("coins", sa.BigInteger, nullable=False),
    # energy as of energy_at (epoch milliseconds); the current value is computed lazily
    sa.Column("energy", sa.Integer, nullable=False),
    sa.Column("energy_at", sa.BigInteger, nullable=False),
    sa.Column("xp", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("avatar_key", sa.String(300), nullable=True),
    # unclaimed gifts addressed to this player, kept in step with the gifts table (0002)
    sa.Column("gifts_waiting", sa.Integer, nullable=False, server_default="0"),
    # the generation of the player's session tokens: signing out or linking Facebook moves it
    # on, and tokens of an older generation stop working (0004)
    sa.Column("session_gen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.CheckConstraint("coins >= 0", name="coins_nonnegative"),
    sa.CheckConstraint("energy >= 0", name="energy_nonnegative"),
    sa.CheckConstraint("gifts_waiting >= 0", name="gifts_waiting_nonnegative"),
)
sa.Index("ix_players_xp_id", players.c.xp.desc(), players.c.id)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False),
    sa.Column("delta", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("op_key", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.UniqueConstraint("player_id", "op_key", name="uq_ledger_player_op_key"),
)
sa.Index("ix_ledger_player_id_id", ledger.c.player_id, ledger.c.id)  # a player's ledger page (0003)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("fingerprint", sa.String(200), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
)

daily_rewards = sa.Table(
    "daily_rewards",
    metadata,
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("coins", sa.Integer, nullable=False),
)

friend_requests = sa.Table(
    "friend_requests",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("from_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False),
    sa.Column("to_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.UniqueConstraint("from_id", "to_id", name="uq_friend_requests_pair"),
    sa.CheckConstraint("from_id <> to_id", name="not_self"),
)
sa.Index("ix_friend_requests_to", friend_requests.c.to_id)

friends = sa.Table(
    "friends",
    metadata,
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("friend_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.CheckConstraint("player_id <> friend_id", name="not_self"),
)
sa.Index("ix_friends_friend", friends.c.friend_id)

gifts = sa.Table(
    "gifts",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("sender_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False),
    sa.Column("recipient_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("coins", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("sender_id", "recipient_id", "day", name="uq_gifts_sender_recipient_day"),
)
sa.Index("ix_gifts_recipient_claimed", gifts.c.recipient_id, gifts.c.claimed_at)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

deletion_requests = sa.Table(
    "deletion_requests",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("player_id", sa.BigInteger, nullable=True),  # no FK: the player row is deleted
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    # SHA-256 of the signed_request: a repeated callback answers the same code (0004)
    sa.Column("request_sha256", sa.String(64), nullable=True, unique=True),
)

# ---------------------------------------------------------------- 0004
# guest sign-ups per client address (an IPv6 address counts by its /64) in a fixed window,
# counted here like the write budget so every replica shares it
signup_limits = sa.Table(
    "signup_limits",
    metadata,
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

# ---------------------------------------------------------------- 0005
# a player's invite link code (/?invite=<code>): whoever signs in with it befriends the player
invites = sa.Table(
    "invites",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
)

# a guest's recovery code (only its SHA-256 is kept): redeemed on another device for a session
recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
)

# the castle a player builds with coins, one level at a time (no row = level 0)
castles = sa.Table(
    "castles",
    metadata,
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.CheckConstraint("level >= 0", name="level_nonnegative"),
)

# ---------------------------------------------------------------- 0007
# work done outside a player's request (game_service.jobs): one row per job, the message on
# the queue carries only its id. The row is the job's state and its idempotency: a message
# delivered twice finds the job done and changes nothing twice. No foreign key to players:
# a job may outlive its player (the player's deletion is itself a job).
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("player_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("subject", sa.String(300), nullable=False),  # what the job works on (e.g. an upload's key)
    # queued -> running -> done | refused (an answer: e.g. not a picture) | failed (gave up)
    sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reason", sa.String(500), nullable=True),  # why refused or failed, in plain words
    sa.Column("result", sa.String(300), nullable=True),  # what it made (e.g. the avatar's key)
    # a secret the job needs, sealed (core/sealing.py; the friends import's Facebook token),
    # dropped when the job ends (0009)
    sa.Column("sealed", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'refused', 'failed')", name="state_known"),
)

# ---------------------------------------------------------------- 0008
# what happened to a player that their open pages should show now (a friend request, a gift):
# written in the same transaction as the write itself, with a NOTIFY on PostgreSQL, so that a
# page's live stream (api/events.py) hears of it on any host and nothing that did not commit
# is announced. A page that reconnects asks for the rows after the last id it saw. Kept for
# ``events_keep_seconds`` (a day by default); gone with either player.
player_events = sa.Table(
    "player_events",
    metadata,
    sa.Column("id", BigInt, primary_key=True, autoincrement=True),
    sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("from_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
)
sa.Index("ix_player_events_player_id_id", player_events.c.player_id, player_events.c.id)
sa.Index("ix_player_events_created_at", player_events.c.created_at)
sa.Index("ix_player_events_from_id", player_events.c.from_id)  # the sender's deletion cascades
