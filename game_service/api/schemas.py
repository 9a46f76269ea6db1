"""Request bodies (validated by pydantic; bad input is a 422 with the reason)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path

from pydantic import BaseModel, ConfigDict, Field


MAX_ID = 2**63 - 1  # ids are PostgreSQL bigints
PlayerIdField = Field(gt=0, le=MAX_ID)
IdPath = Annotated[int, Path(gt=0, le=MAX_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuestIn(Strict):
    name: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[^\x00-\x1f<>]+$")


class FacebookIn(Strict):
    signed_request: str | None = Field(None, max_length=8192)
    access_token: str | None = Field(None, max_length=4096)


class RenameIn(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f<>]+$")


class FriendRequestIn(Strict):
    player_id: int = PlayerIdField


class FacebookImportIn(Strict):
    access_token: str = Field(min_length=1, max_length=4096)


class GiftIn(Strict):
    to_player_id: int = PlayerIdField


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


class DeletionOut(BaseModel):
    url: str
    confirmation_code: str


ERRORS = {code: {"model": ErrorOut} for code in (401, 404, 409, 413, 422, 429)}
