"""The direct route encodes a JSON body byte for byte as httpx's `json=` does."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hfinfer._direct import encode_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(JSON.filter(lambda value: value is not None))  # json=None means "no body" to httpx
def test_bodies_equal_httpx_json(value: Any) -> None:
    assert encode_json(value) == httpx.Request("POST", "http://x.test", json=value).content


@pytest.mark.parametrize("value", [math.nan, math.inf, [1.0, -math.inf]])
def test_non_finite_numbers_are_refused_as_httpx_refuses_them(value: Any) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        httpx.Request("POST", "http://x.test", json=value)
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode_json(value)
