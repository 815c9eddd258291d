"""ingest.jsonslices: each element's own bytes in a JSON array, for any array and any spacing."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.jsonslices import array_slices

SPACE = st.text(alphabet=" \t\n\r", max_size=3)
# Strings with what a scanner gets wrong: quotes, backslashes, brackets and commas, escapes, non-ASCII.
TEXT = st.text(alphabet=st.sampled_from(list('ab"\\[]{},: \n/é\u2028😀\x00\x1f')), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=20)


@st.composite
def spaced_arrays(draw) -> tuple[bytes, list]:
    """A JSON array written with arbitrary whitespace around every element and separator, and
    its elements each written either compact, spaced, or indented."""
    elements = draw(st.lists(VALUES, max_size=8))
    pieces = []
    for element in elements:
        style = draw(st.sampled_from([{}, {"indent": 2}, {"separators": (" , ", " : ")}, {"ensure_ascii": False}]))
        pieces.append(draw(SPACE) + json.dumps(element, **style) + draw(SPACE))
    text = draw(SPACE) + "[" + ",".join(pieces) + (draw(SPACE) if not pieces else "") + "]" + draw(SPACE)
    return text.encode("utf-8"), elements


@settings(max_examples=400, deadline=None)
@given(spaced_arrays())
def test_every_slice_is_its_element_and_the_slices_are_the_elements(case):
    body, elements = case
    slices = array_slices(body)
    assert [json.loads(body[start:end]) for start, end in slices] == elements
    # exactly the elements: in order, disjoint, each trimmed, nothing but separators between them
    for (_, end), (start, _) in zip(slices, slices[1:]):
        assert body[end:start].strip(b" \t\n\r") == b","
    for start, end in slices:
        assert body[start:start + 1] not in b" \t\n\r" and body[end - 1:end] not in b" \t\n\r"


@given(VALUES)
def test_a_body_that_is_not_an_array_is_refused(value):
    if isinstance(value, list):
        value = {"a": value}
    with pytest.raises(ValueError):
        array_slices(json.dumps(value).encode())


@pytest.mark.parametrize("body", [b"[1,]", b"[,1]", b"[1", b"[1] 2", b"", b"   "])
def test_broken_arrays_are_refused_not_guessed(body):
    with pytest.raises(ValueError):
        array_slices(body)


def test_a_leading_byte_order_mark_is_skipped():
    body = b'\xef\xbb\xbf [ {"a": 1} ]'
    assert [body[s:e] for s, e in array_slices(body)] == [b'{"a": 1}']


def test_it_is_linear_even_on_pathological_strings():
    # Long runs of backslashes and quotes, the shapes that make a careless string regex quadratic.
    small = json.dumps(["\\" * 1_000 + '"' * 1_000] * 10).encode()
    large = json.dumps(["\\" * 1_000 + '"' * 1_000] * 1_000).encode()
    started = time.perf_counter()
    array_slices(small)
    small_seconds = time.perf_counter() - started
    started = time.perf_counter()
    assert len(array_slices(large)) == 1_000
    large_seconds = time.perf_counter() - started
    assert large_seconds < max(1.0, small_seconds * 100 * 5)
