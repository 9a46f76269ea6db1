"""Request bodies (validated by pydantic; bad input is a 422 with the reason)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Path
from starlette.convertors import Convertor, register_url_convertor

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from game_service import names

# ids are PostgreSQL bigints; the API takes those a JavaScript client (and any JSON parser that
# reads numbers as doubles) holds exactly: 2^53 - 1, far beyond any id the service hands out
MAX_ID = 2**53 - 1


def _json_integer(v: object) -> object:
    """A JSON integer (``7``, or ``7.0``: JSON Schema's integers), never ``true`` or ``"7"``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("must be an integer")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("must be an integer")
        return int(v)
    return v


PlayerId = Annotated[int, Field(gt=0, le=MAX_ID), BeforeValidator(_json_integer)]
IdPath = Annotated[int, Path(gt=0, le=MAX_ID)]


class IdConvertor(Convertor):
    """``{name:id}`` in a route's path: digits, handed on as text for IdPath to bound (a
    422 at any length). Starlette's ``int`` convertor converts while it routes, and Python
    refuses to convert more than 4300 digits: that was a 500 for any method."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: object) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

# a player's name: the pattern is what the server enforces (game_service.names), stated in the schema
Name = Annotated[
    str,
    Field(min_length=1, max_length=names.MAX_LENGTH, description=names.DESCRIPTION,
          json_schema_extra={"pattern": names.PATTERN}),
    AfterValidator(names.clean),
]


# Text from clients never holds control characters (C0, DEL, C1): PostgreSQL refuses NUL in
# text, and the rest have no business in a search, a token or a log line. The pattern states
# it in the OpenAPI document; the validator enforces it with a reason.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


NoControl = AfterValidator(no_control_characters)


def text(min_length: int, max_length: int, **kw) -> object:
    """A string field of a body: bounded, without control characters."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": NO_CONTROL_PATTERN}, **kw), NoControl]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuestIn(Strict):
    name: Name = None  # type: ignore[assignment]  # omitted: "Guest <id>"


class FacebookIn(Strict):
    """One of the two: the JS SDK's ``signedRequest``, or a user access token."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["signed_request"]}, {"required": ["access_token"]}]},
    )
    signed_request: text(1, 8192) = None  # type: ignore[valid-type]
    access_token: text(1, 4096) = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _one_of_them(self):
        if self.signed_request is None and self.access_token is None:
            raise ValueError("send signed_request or access_token")
        return self


class RenameIn(Strict):
    name: Name


class FriendRequestIn(Strict):
    player_id: PlayerId


class FacebookImportIn(Strict):
    access_token: text(1, 4096)  # type: ignore[valid-type]


class FacebookImportOut(BaseModel):
    added: list[int] = Field(description="the players who became your friends (a run without a job queue)")


class GiftIn(Strict):
    to_player_id: PlayerId


class UploadUrlIn(Strict):
    content_type: Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


class AvatarConfirmIn(Strict):
    key: str = Field(min_length=1, max_length=300, pattern=r"^[A-Za-z0-9/._-]+$")




# ---------------------------------------------------------------- responses (for the OpenAPI schema)
class ErrorOut(BaseModel):
    error: str = Field(description="machine-readable code, e.g. no_energy, already_claimed, rate_limited")
    detail: str | list = Field(description="what went wrong, for people")
    request_id: str | None = None


class PublicPlayer(BaseModel):
    id: int
    name: str
    level: int
    xp: int
    avatar_url: str | None


class PlayerState(BaseModel):
    id: int
    name: str
    coins: int
    energy: int
    energy_cap: int
    next_energy_in_seconds: int | None
    xp: int
    level: int
    xp_per_level: int
    avatar_url: str | None
    facebook_linked: bool
    daily_reward_available: bool | None = None
    daily_reward_coins: int | None = None
    gifts_waiting: int | None = None


class TokenOut(BaseModel):
    token: str
    player: PlayerState


class ActionOut(BaseModel):
    coins_earned: int
    xp_earned: int
    energy_spent: int
    player: PlayerState


class EnergyPackOut(BaseModel):
    coins_spent: int
    energy_added: int
    player: PlayerState


class DailyOut(BaseModel):
    coins_earned: int
    coins: int
    day: str


class GiftClaimOut(BaseModel):
    gift_id: int
    coins_earned: int
    coins: int


class GiftSentOut(BaseModel):
    gift_id: int
    to_player_id: int
    coins: int


class CastleOut(BaseModel):
    level: int
    max_level: int
    next_price: int | None = Field(description="coins to build the next level; null when the castle is complete")


class DailyStateOut(BaseModel):
    available: bool
    coins: int
    streak: int
    next_at: str | None
    next_in_seconds: int


class EnergyPackState(BaseModel):
    price: int
    amount: int
    fits: bool = Field(description="the pack fits under the energy cap now")
    affordable: bool


class ProgressOut(BaseModel):
    castle: CastleOut
    daily: DailyStateOut
    energy_pack: EnergyPackState
    energy_refill_seconds: int = Field(description="one energy point comes back every this many seconds")
    action_energy_cost: int = Field(description="the energy an action (POST /api/actions) spends")
    recovery_code: bool


class LeaderboardRow(PublicPlayer):
    rank: int


class LeaderboardOut(BaseModel):
    scope: str
    items: list[LeaderboardRow]
    next_offset: int | None


class UploadOut(BaseModel):
    url: str = Field(description="POST a multipart form here: every entry of `fields`, then `file`")
    fields: dict[str, str]
    key: str
    max_bytes: int
    expires_in: int


class JobOut(BaseModel):
    """A job done outside the request (game_service.jobs), as its player sees it."""

    id: int
    kind: str = Field(description="what the job does: avatar, friends_import")
    state: Literal["processing", "done", "refused", "failed"] = Field(
        description="processing: waiting for a worker or being worked on (read it again in a second); done; "
                    "refused: it cannot be done as asked, e.g. the upload is not a usable picture or Facebook's "
                    "permission expired (`reason` says why); "
                    "failed: it could not be done after several attempts (`reason`)")
    href: str = Field(description="where to read the job again: GET")
    avatar_url: str | None = Field(None, description="an avatar job that is done: the new avatar")
    added: int | None = Field(None, description="a friends import that is done: how many friends it added")
    reason: str | None = Field(None, description="refused or failed: why, in plain words for the player")


class DeletionOut(BaseModel):
    url: str
    confirmation_code: str


class LinkedOut(PlayerState):
    token: str = Field(description="the player's new session token: older ones no longer work")


class FriendRow(PublicPlayer):
    gift_sent_today: bool


class FriendRequestRow(BaseModel):
    request_id: int
    player: PublicPlayer


class FriendsOut(BaseModel):
    friends: list[FriendRow]
    incoming_requests: list[FriendRequestRow]
    outgoing_requests: list[FriendRequestRow]
    next_offset: int | None = Field(description="offset of the next page of friends; null on the last page")


_ERROR_DESCRIPTIONS = {
    400: "malformed request (a body that is not JSON, not UTF-8, or nests too deeply)",
    401: "not signed in, or the session is invalid, expired, signed out or of a deleted player",
    403: "not allowed (e.g. a Facebook account linked to someone else)",
    404: "not found (or not yours)",
    409: "refused by a game rule (e.g. no_energy, already_claimed)",
    413: "request body too large",
    422: "invalid input; the detail names the field",
    429: "rate limited; Retry-After says when to come back",
    502: "Facebook's Graph API failed",
    503: "the database (or a dependency) is unavailable; Retry-After says when to retry",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def errors_for(*codes: int) -> dict:
    return {
        c: {"model": ErrorOut, "description": _ERROR_DESCRIPTIONS[c], **({"headers": _RETRY_AFTER} if c in (429, 503) else {})}
        for c in codes
    }


ERRORS = errors_for(400, 401, 404, 409, 413, 422, 429, 503)
FACEBOOK_ERRORS = errors_for(502)


# ---------------------------------------------------------------- OpenAPI links
def link(method: str, path: str, *, parameters: dict | None = None, body: object = None) -> dict:
    """An OpenAPI link to another operation, fed from this response (``$response.body#/...``):
    how one call leads to the next (schema-driven tools follow them)."""
    ref = "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()
    out: dict = {"operationRef": ref}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    return out


def linked(status: int, model: type | None = None, **links: dict) -> dict:
    """A ``responses`` entry for ``status`` with its links (and model)."""
    return {status: {**({"model": model} if model else {}), "links": links}}
