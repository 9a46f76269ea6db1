"""Data access: every SQL statement of the service lives in this package.

* ``writes``    the write machinery: per-player rate limit, Idempotency-Key, ledger rows,
                one transaction (or one statement) per write
* ``players``   sign-up, state, profile, Facebook link, avatar, ledger listing
* ``economy``   the wallet and energy: actions, energy packs, the daily reward, credits
* ``social``    friends, gifts, the leaderboard
* ``invites``   a player's invite link, befriending by invite, search by name
* ``progress``  the castle (what coins build) and the daily reward's streak
* ``recovery``  recovery codes: a guest's way back on another device
* ``deletion``  Facebook data-deletion requests
* ``jobs``      the rows behind the job queue's messages: one avatar job per upload, its
                state from queued to done, refused or failed, read by its player
* ``events``    what happened to a player that their open pages should show now (a row
                and a NOTIFY in the write's own transaction; read by the live streams)

The rules themselves (energy refill, levels, the rate-limit window) are in
:mod:`game_service.rules`, without I/O.

Consistency rules:
* balances change by one conditional UPDATE (``... WHERE coins >= n``) and an
  append-only ledger row with a unique ``(player_id, op_key)`` in the same transaction;
* energy is computed lazily from ``energy_at`` inside that same UPDATE, never by a timer;
* gifts are claimed by a conditional UPDATE (``claimed_at IS NULL``), the daily reward by a
  unique ``(player_id, day)`` row;
* a client may retry any write with an ``Idempotency-Key``: the key row is inserted in the
  write's own transaction, and the stored response is replayed on a retry;
* per-player write rate limits are counted in the database, so they hold across replicas.
"""
