"""`MaxParamKeys`: one event keeps at most so many params keys; the rest are dropped and counted."""

from __future__ import annotations

from typing import Any

from tests.unit.test_plan import CTX, plan

from tracker.normalise.params import cap_keys


def test_keys_over_the_limit_are_dropped_in_the_order_sent_and_counted() -> None:
    params: dict[str, Any] = {f"k{i}": i for i in range(150)}
    assert cap_keys(params, 100) == 50
    assert list(params) == [f"k{i}" for i in range(100)]


def test_nested_keys_and_keys_inside_arrays_count_too() -> None:
    params: dict[str, Any] = {"a": {"b": 1, "c": {"d": 2}}, "list": [{"x": 1}, {"y": 2}], "z": 3}
    # a, b, c, d, list, x, y, z: eight keys; five are kept, depth first
    assert cap_keys(params, 5) == 3
    assert params == {"a": {"b": 1, "c": {"d": 2}}, "list": [{}, {}]}


def test_an_event_within_the_limit_is_untouched() -> None:
    params: dict[str, Any] = {"a": 1, "b": {"c": [1, 2]}}
    assert cap_keys(params, 3) == 0
    assert params == {"a": 1, "b": {"c": [1, 2]}}


def test_an_event_with_too_many_keys_is_stored_with_the_first_ones() -> None:
    body = {"ename": "many", "params": {f"p{i:03}": i for i in range(CTX.max_param_keys + 20)}}
    [params] = [row["params"] for table, row in plan(body) if table == "events"]
    assert sorted(params) == [f"p{i:03}" for i in range(CTX.max_param_keys)]
