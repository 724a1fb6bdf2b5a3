"""The README's `jq .batching` example is what a user sees, and every field of it is explained."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from tracker.metrics import Metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def example() -> tuple[dict[str, object], str]:
    """The JSON answer shown after `jq .batching`, and the README text that follows it."""
    text = README.read_text()
    after = text[text.index("| jq .batching") :]
    found = re.search(r"```json\n(.*?)\n```\n(.*?)\n(?:```|#)", after, re.DOTALL)
    assert found, "no JSON answer after the `jq .batching` example"
    return orjson.loads(found[1]), found[2]


def test_the_batching_example_has_the_fields_the_tracker_answers() -> None:
    shown, _ = example()
    assert list(shown) == list(Metrics().as_json()["batching"])


def test_every_field_of_the_batching_example_is_explained_next_to_it() -> None:
    shown, explanation = example()
    explained = re.findall(r"^\* `(\w+)`: ", explanation, re.MULTILINE)
    assert explained == list(shown)


def test_the_batching_example_numbers_agree_with_each_other() -> None:
    shown, _ = example()
    total_items, total_batches = shown["total_items"], shown["total_batches"]
    assert isinstance(total_items, int)
    assert isinstance(total_batches, int)
    assert shown["avg_batch_size"] == total_items // total_batches  # rounded down, as in Go
    assert total_items > 3  # the 3 quickstart events write rows of other tables too
