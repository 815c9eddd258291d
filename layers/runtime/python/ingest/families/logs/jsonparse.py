"""JSON for arbitrary log events: orjson, with every integer kept exact and nothing that can crash.

orjson is the fast path, but it quietly turns an integer beyond 64 bits into a float (so
18446744073709551616 would come back as 1.8446744073709552e+19) and refuses a number beyond a
double's range (1e400). A body that may hold such a number takes the exact path: those number
tokens are swapped for unique placeholder strings, orjson parses the result (same grammar, same
UTF-8 check, same 1,024-level depth limit as the fast path), and each placeholder becomes an
``orjson.Fragment`` holding the number's original text, which ``orjson.dumps`` writes back verbatim.

Rules (docs/logs.md):
* integers of any size round-trip digit for digit; numbers with a fraction or exponent are IEEE 754
  doubles (as JSON.parse has them), written back in their shortest exact form; a decimal beyond a
  double's range is kept verbatim;
* duplicate keys in one object: the last one wins (as JSON.parse);
* a leading UTF-8 byte order mark is ignored (as a browser's TextDecoder does); any other invalid
  UTF-8, or nesting deeper than 1,024 levels, is a 400 naming where it is.
"""

from __future__ import annotations

import bisect
import math
import re
import secrets

import orjson

from ingest.errors import BadRequest, Violation

MAX_DEPTH = 1024  # orjson's limit, which both paths share
BOM = b"\xef\xbb\xbf"
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1

# An integer orjson cannot hold is written as 20+ digits (or "-" and 19+) right after what may precede
# a JSON value ("[", ":", ",", whitespace). The body's shape, digits -> "0", those -> "x", "-" kept,
# everything else -> "a", shows one with two substring searches: translate and find run in C (about
# 1 ms per MB), where a regex costs more than the parse itself. Digits inside strings after a letter,
# quote or "." (trace ids, hashes, fractions) do not match; the rare false alarm costs only time.
_DIGIT_SHAPE = bytes(
    ord("0") if chr(byte).isdigit() and byte < 128
    else ord("x") if chr(byte) in "[:, \t\n\r"
    else byte if chr(byte) == "-"
    else ord("a")
    for byte in range(256)
)
_LONG_POSITIVE = b"x" + b"0" * 20
_LONG_NEGATIVE = b"x-" + b"0" * 19

# A JSON string (skipped whole, so digits inside strings are never taken for numbers) or a number.
# Possessive loops, and an unterminated string runs to the end of the text: every character is read
# once, so no body (e.g. thousands of escaped quotes never closed) can make the scan quadratic.
_TOKEN = re.compile(
    r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)'
    r"|(?P<number>-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][+-]?[0-9]++)?)",
    re.DOTALL,
)


def loads(body: bytes) -> object:
    """Parse a request body; raises BadRequest with a message that says where the problem is."""
    if body.startswith(BOM):
        body = body[len(BOM) :]
    if not body.strip():
        raise _bad("The request body is empty; send a JSON array of event objects.")
    if _may_hold_wide_integers(body):
        return _loads_exact(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("number is infinity"):
            return _loads_exact(body)
        raise _malformed(body, exc.msg, exc.lineno, exc.colno) from exc


def _may_hold_wide_integers(body: bytes) -> bool:
    shape = body.translate(_DIGIT_SHAPE)
    return (
        _LONG_POSITIVE in shape
        or _LONG_NEGATIVE in shape
        or shape.startswith((_LONG_POSITIVE[1:], _LONG_NEGATIVE[1:]))  # a bare number as the whole body
    )


def _needs_verbatim(token: str) -> bool:
    """A number orjson would change (an integer beyond 64 bits) or refuse (beyond a double)."""
    if "." in token or "e" in token or "E" in token:
        return math.isinf(float(token))
    digits = len(token) - token.startswith("-")
    if digits < 19:
        return False
    if digits > 20:  # never int() a long digit string: CPython caps int parsing at 4,300 digits
        return True
    return not INT64_MIN <= int(token) <= UINT64_MAX


def _loads_exact(body: bytes) -> object:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"The request body is not valid UTF-8 (byte {exc.start}).") from exc
    marker = f"\ue000{secrets.token_hex(8)}:"  # no client can guess it, so no real string collides
    verbatim: list[bytes] = []
    pieces: list[str] = []
    ends: list[int] = []  # where each placeholder ends in the rewritten text ...
    shifts: list[int] = []  # ... and how many characters longer the text is from there on
    last = shift = 0
    for match in _TOKEN.finditer(text):
        token = match.group("number")
        if token is None or not _needs_verbatim(token):
            continue
        placeholder = f'"{marker}{len(verbatim)}"'
        verbatim.append(token.encode("ascii"))
        pieces += (text[last : match.start()], placeholder)
        last = match.end()
        shift += len(placeholder) - len(token)
        ends.append(match.end() + shift)
        shifts.append(shift)
    pieces.append(text[last:])
    try:
        document = orjson.loads("".join(pieces))
    except orjson.JSONDecodeError as exc:
        # Report the position in the body as sent, not in the rewritten text.
        at = bisect.bisect_right(ends, exc.pos)
        position = exc.pos - (shifts[at - 1] if at else 0)
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        raise _malformed(body, exc.msg, line, column) from exc
    return _restore(document, marker, verbatim)


def _restore(document: object, marker: str, verbatim: list[bytes]) -> object:
    """Swap placeholders for Fragments, iteratively: the document may be 1,024 levels deep."""

    def number(value: str):
        return orjson.Fragment(verbatim[int(value[len(marker) :])])

    if isinstance(document, str):
        return number(document) if document.startswith(marker) else document
    if not isinstance(document, list | dict):
        return document
    stack = [document]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for position, item in enumerate(container):
                if isinstance(item, str):
                    if item.startswith(marker):
                        container[position] = number(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
        else:
            for key, item in container.items():
                if key.startswith(marker):  # `{123456789012345678901: ...}` is not JSON either
                    raise _bad("Malformed JSON: an object key is a number; keys must be strings.")
                if isinstance(item, str):
                    if item.startswith(marker):
                        container[key] = number(item)  # same key: the dict does not change size
                elif isinstance(item, list | dict):
                    stack.append(item)
    return document


def _malformed(body: bytes, message: str, line: int, column: int) -> BadRequest:
    if "not valid UTF-8" in message:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _bad(f"The request body is not valid UTF-8 (byte {exc.start}).")
        return _bad("The request body is not valid UTF-8.")
    if message.startswith("depth limit exceeded"):
        return _bad(f"The request body nests arrays and objects deeper than {MAX_DEPTH} levels "
                    f"(line {line}, column {column}).")
    return _bad(f"Malformed JSON at line {line}, column {column}: {message}.")


def _bad(message: str) -> BadRequest:
    return BadRequest(message, (Violation(None, "", message),))
