"""Where each element of a top-level JSON array sits in the bytes: (start, end) offsets, so a
rejected event can be kept as the very bytes the client sent for it.

It runs only on a body that has already parsed, and only when something was rejected, so it
checks structure just enough to be sure of its answer (it raises ValueError otherwise) and leaves
validation to the parser. One pass, linear in the body: a regex finds the only bytes that matter
(a string, as a whole, and the structural characters outside strings); every string is matched by
an unrolled loop (`"[^"\\]*(?:\\.[^"\\]*)*"`), which cannot backtrack.
"""

from __future__ import annotations

import re

# A string (escapes included) or one structural character outside strings; numbers, literals and
# whitespace in between are skipped by finditer.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_NOT_SPACE = re.compile(rb"[^ \t\n\r]")
_SPACE = b" \t\n\r"
BOM = b"\xef\xbb\xbf"


def array_slices(body: bytes) -> list[tuple[int, int]]:
    """The (start, end) of every element of the JSON array `body`, whitespace around it excluded:
    `body[start:end]` is the element's own text. Raises ValueError when `body` is not an array."""
    first = _NOT_SPACE.search(body, len(BOM) if body.startswith(BOM) else 0)
    if first is None or body[first.start():first.start() + 1] != b"[":
        raise ValueError("the body is not a JSON array")
    slices: list[tuple[int, int]] = []
    depth = 0  # containers open, the top-level array included
    after = first.start() + 1  # where the current element may begin (after "[" or a top-level ",")
    for token in _TOKENS.finditer(body, first.start()):
        char = token.group()[:1]
        if char in b"[{":
            depth += 1
            continue
        if char in b"]}":
            depth -= 1
        if not (char == b"," and depth == 1 or char == b"]" and depth == 0):
            continue
        # A top-level "," or the closing "]": the element before it ends here.
        begin = _NOT_SPACE.search(body, after, token.start())
        if begin is not None:
            end = token.start()
            while body[end - 1] in _SPACE:
                end -= 1
            slices.append((begin.start(), end))
        elif char == b"," or slices:
            raise ValueError(f"an empty element before byte {token.start()}")
        if depth == 0:
            rest = _NOT_SPACE.search(body, token.end())
            if rest is not None:
                raise ValueError(f"bytes after the array, at byte {rest.start()}")
            return slices
        after = token.end()
    raise ValueError("the array is not closed")
