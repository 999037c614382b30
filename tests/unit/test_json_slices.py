"""sliced_dumps gives json.dumps's text, byte for byte, while encoding long lists a slice
at a time (so worker threads give the GIL back to the console's loop in between)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ats.utils import json_slices
from ats.utils.json_slices import sliced_dumps

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=9) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=40,
)
SEPARATORS = [None, (",", ":")]


@pytest.fixture(autouse=True)
def tiny_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_slices, "SLICE", 2)  # every short list is "long"


def _plain(value: Any, **options: Any) -> str | type[ValueError]:
    try:
        return json.dumps(value, **options)
    except ValueError:
        return ValueError


def _sliced(value: Any, **options: Any) -> str | type[ValueError]:
    try:
        return sliced_dumps(value, **options)
    except ValueError:
        return ValueError


@given(value=json_values, separators=st.sampled_from(SEPARATORS), allow_nan=st.booleans())
def test_same_text_as_json_dumps(value: Any, separators: Any, allow_nan: bool) -> None:
    options = {"separators": separators, "allow_nan": allow_nan}
    assert _sliced(value, **options) == _plain(value, **options)


def test_non_string_keys_are_encoded_like_json_dumps() -> None:
    value = {"trades": [{1: 2.5, None: [1, 2, 3]}, {True: "x"}], 3: [4, 5, 6]}
    assert sliced_dumps(value) == json.dumps(value)
