"""Comments and docstrings make sense on their own: no citations of documents outside the repository.

The code was written from specifications kept outside this repository. A reader here cannot follow
a citation of them (their file names, or a bare section mark with an item number), so a comment
states the fact itself, or points to a document in ``docs/`` (``docs/differences.md`` for "we
differ from the Go tracker here").

The patterns are assembled from pieces, so this file does not match itself.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("src", "tests", "bench")
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}

OUTSIDE_DOCUMENTS = re.compile(
    "|".join(
        (
            re.escape("http-api" + ".md"),
            re.escape("storage" + ".md"),
            re.escape("DESIGN" + ".md"),
            re.escape("STYLE" + ".md"),
            re.escape("shared" + "/spec"),
            "\N{SECTION SIGN}",
        )
    )
)


def scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            parts = path.relative_to(ROOT).parts
            if any(p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts):
                continue
            if path.is_file():
                files.append(path)
    return files


def citations(text: str) -> list[tuple[int, str]]:
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if OUTSIDE_DOCUMENTS.search(line)
    ]


def test_the_patterns_catch_what_they_are_meant_to() -> None:
    section = "\N{SECTION SIGN}"
    assert citations(f"# see {section}9 item 7") == [(1, f"# see {section}9 item 7")]
    assert citations("x\n(" + "http-api" + ".md, done)")[0][0] == 2
    assert citations("see " + "storage" + ".md") != []
    assert citations("see " + "DESIGN" + ".md decision 2") != []
    assert citations("per " + "STYLE" + ".md") != []
    assert citations("/work/" + "shared" + "/spec/x") != []
    assert citations("see docs/differences.md and RFC 9562 section 5.7") == []


def test_no_file_cites_documents_outside_the_repository() -> None:
    files = scanned_files()
    assert any(p.name == "__init__.py" for p in files)  # the walk found the code
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for path in files
        for number, line in citations(path.read_bytes().decode("utf-8", "replace"))
    ]
    assert not found, (
        "Cite nothing outside the repository; state the fact, or point to docs/differences.md:\n"
        + "\n".join(found)
    )
