"""Player names: what a name may contain, as one regular expression that the API enforces
and the OpenAPI document states (so schema-driven clients and the server agree).

A name is normalised (NFC) and trimmed before it is stored. It may contain letters, marks,
numbers, punctuation, symbols and spaces; it must have at least one visible character (not
only spaces or marks); a visible character carries at most two combining marks (no
"stacks" that spill over neighbouring text); control and format characters (right-to-left
overrides, zero-width characters, the BOM, DEL, ...), private-use and unassigned code
points, ``<`` and ``>``, and blank-looking letters (Hangul fillers, the braille blank) are
refused.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 40
MAX_MARKS = 2
# letters and symbols that render as nothing: a name made of them looks empty
_BLANK_LOOKING = {0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x17B4, 0x17B5}
# code points worth scanning (the rest of the planes are unassigned or private use)
_SCAN = (range(0x0, 0x40000), range(0xE0000, 0xE1000))


def _class(pred) -> str:
    """A regex character class of the code points that satisfy ``pred``, as ranges."""
    parts: list[str] = []
    start = prev = None
    for block in _SCAN:
        for cp in block:
            if pred(cp):
                if start is None:
                    start = cp
                elif prev != cp - 1:
                    parts.append((start, prev))
                    start = cp
                prev = cp
    if start is not None:
        parts.append((start, prev))

    def lit(cp: int) -> str:
        ch = chr(cp)
        return "\\" + ch if ch in "\\]^-[" else ch

    return "[" + "".join(lit(a) if a == b else f"{lit(a)}-{lit(b)}" for a, b in parts) + "]"


def _visible(cp: int) -> bool:
    return unicodedata.category(chr(cp))[0] in "LNPS" and chr(cp) not in "<>" and cp not in _BLANK_LOOKING


_V = _class(_visible)
_M = _class(lambda cp: unicodedata.category(chr(cp))[0] == "M")
_Z = _class(lambda cp: unicodedata.category(chr(cp)) == "Zs")
_UNIT = f"{_V}{_M}{{0,{MAX_MARKS}}}"
PATTERN = f"^{_Z}*{_UNIT}(?:{_Z}*{_UNIT})*{_Z}*$"
_RE = re.compile(PATTERN)

DESCRIPTION = (
    "Letters, marks, numbers, punctuation, symbols and spaces; at least one visible character; "
    f"at most {MAX_MARKS} combining marks on a character; no control or format characters, no < or >. "
    f"Stored normalised (NFC) and trimmed, at most {MAX_LENGTH} characters."
)


def clean(raw: str) -> str:
    """The name to store, or ValueError saying what is wrong with it."""
    if not 1 <= len(raw) <= MAX_LENGTH:
        raise ValueError(f"a name has 1 to {MAX_LENGTH} characters")
    if not _RE.match(raw):
        raise ValueError(
            "a name needs a visible character and may not contain control or format characters, "
            f"< or >, or more than {MAX_MARKS} combining marks on one character"
        )
    name = unicodedata.normalize("NFC", raw).strip()
    if len(name) > MAX_LENGTH:  # a few characters decompose under NFC
        raise ValueError(f"a name has at most {MAX_LENGTH} characters once normalised")
    return name
