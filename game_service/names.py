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


def _classes() -> dict[str, str]:
    """The regex character classes of visible characters (``V``), combining marks (``M``) and
    spaces (``Z``), as ranges, from one pass over the code points (every process that imports
    the service builds them at import)."""
    runs: dict[str, list[list[int]]] = {"V": [], "M": [], "Z": []}
    category, refused = unicodedata.category, _BLANK_LOOKING | {ord("<"), ord(">")}
    for block in _SCAN:
        for cp in block:
            cat = category(chr(cp))
            if cat[0] in "LNPS":  # letters, numbers, punctuation, symbols
                if cp in refused:
                    continue
                mine = runs["V"]
            elif cat[0] == "M":  # combining marks
                mine = runs["M"]
            elif cat == "Zs":  # spaces
                mine = runs["Z"]
            else:
                continue
            if mine and mine[-1][1] == cp - 1:
                mine[-1][1] = cp
            else:
                mine.append([cp, cp])

    def lit(cp: int) -> str:
        ch = chr(cp)
        return "\\" + ch if ch in "\\]^-[" else ch

    return {kind: "[" + "".join(lit(a) if a == b else f"{lit(a)}-{lit(b)}" for a, b in mine) + "]"
            for kind, mine in runs.items()}


_CLASSES = _classes()
_V, _M, _Z = _CLASSES["V"], _CLASSES["M"], _CLASSES["Z"]
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
