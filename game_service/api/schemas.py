"""Request bodies (validated by pydantic; bad input is a 422 with the reason)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    player_id: int = Field(gt=0)


class FacebookImportIn(Strict):
    access_token: str = Field(min_length=1, max_length=4096)


class GiftIn(Strict):
    to_player_id: int = Field(gt=0)


class UploadUrlIn(Strict):
    content_type: Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


class AvatarConfirmIn(Strict):
    key: str = Field(min_length=1, max_length=300)


class TokenOut(BaseModel):
    token: str
    player: dict
