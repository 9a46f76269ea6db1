"""Errors that the API turns into JSON responses with the right status code."""

from __future__ import annotations


class GameError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def not_found(what: str) -> GameError:
    return GameError(404, "not_found", f"{what} not found")


def conflict(code: str, message: str) -> GameError:
    return GameError(409, code, message)
