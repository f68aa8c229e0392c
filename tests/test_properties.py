"""Properties of the merge, checked on generated Ground Truth inputs (hypothesis, derandomized).

- the merged bytes do not depend on how the records are split across files or padded with
  blank lines;
- merging the output with itself, or again, changes nothing;
- every input line is accounted for exactly once in the report;
- the validator finds no error in the merge of valid inputs;
- reading what was written gives back the same canonical records.
"""

from __future__ import annotations

import io
import itertools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast
from unittest.mock import patch

from builders import boxes, classification, line, multilabel, verification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import record_figures

from gtmerge import jsondoc, merge, planning
from gtmerge.readers import Parsed
from gtmerge.readers.groundtruth import parse_line
from gtmerge.validate import ManifestValidator
from gtmerge.writer import ManifestFormat

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
IMAGES = [f"img{i}.jpg" for i in range(6)]
CLASSES = ["cat", "dog", "bird", "fish"]
DATES = ["2018-10-18T22:18:13.527256", "2020-02-27T21:36:25"]

attribute = st.one_of(
    st.builds(
        lambda name, cls, human, date: classification(
            name, cls, human="yes" if human else "no", date=date
        ),
        st.sampled_from(["species", "kind"]),
        st.sampled_from(CLASSES),
        st.booleans(),
        st.sampled_from(DATES),
    ),
    st.builds(
        lambda picked: multilabel("scene", {i: (CLASSES[i], 0.5) for i in picked}),
        st.sets(st.integers(0, len(CLASSES) - 1), min_size=1),
    ),
    st.builds(
        lambda cls, left: boxes("bb", [(cls, left, 2, 30, 40)]),
        st.sampled_from(CLASSES),
        st.integers(0, 3),
    ),
)
valid_line = st.builds(
    lambda image, attributes: line(image, *attributes),
    st.sampled_from(IMAGES),
    st.lists(attribute, min_size=1, max_size=2),
)
bad_line = st.sampled_from(
    [
        "not json",
        '{"source-ref": 7}',
        "[1, 2]",
        line("x.jpg", {"seg": 1, "seg-metadata": {"type": "groundtruth/semantic-segmentation"}}),
        '{"source-ref": "http://example.com/x.jpg"}',
    ]
)
valid_lines = st.lists(valid_line, min_size=1, max_size=25)
any_lines = st.lists(st.one_of(valid_line, bad_line, st.just("")), min_size=1, max_size=25)


def run(files: list[list[str]], **options: Any) -> tuple[bytes, dict[str, Any]]:
    """Write each file's lines, merge them all, return the output bytes and the report."""
    with tempfile.TemporaryDirectory() as directory:
        paths = []
        for index, lines in enumerate(files):
            path = Path(directory, f"in{index}.manifest")
            path.write_text("".join(text + "\n" for text in lines))
            paths.append(str(path))
        out, report = Path(directory, "out.manifest"), Path(directory, "report.json")
        # named, not detected: a file of blank lines alone has no format to detect
        merge(paths, str(out), report=str(report), mapping="groundtruth", **options)
        return out.read_bytes(), json.loads(report.read_text())


def check(name: str, strategy: Any, prop: Callable[[Any], None]) -> None:
    """Run ``prop`` on ``strategy``'s examples and record how many ran."""
    calls = [0]

    def counted(case: Any) -> None:
        calls[0] += 1
        prop(case)

    SETTINGS(given(strategy)(counted))()
    record_figures(f"properties::{name}", examples=calls[0])


def test_the_merge_does_not_depend_on_how_records_are_split() -> None:
    def prop(case: tuple[list[str], list[int], list[int]]) -> None:
        lines, cuts, blanks = case
        whole, _ = run([lines])
        padded = list(lines)
        for at in sorted(blanks, reverse=True):
            padded.insert(at % (len(padded) + 1), "")
        bounds = [0, *sorted(c % (len(padded) + 1) for c in cuts), len(padded)]
        split = [padded[a:b] for a, b in itertools.pairwise(bounds)]
        assert run(split)[0] == whole

    check(
        "split",
        st.tuples(
            valid_lines,
            st.lists(st.integers(0, 99), max_size=4),
            st.lists(st.integers(0, 99), max_size=3),
        ),
        prop,
    )


def test_merging_the_output_with_itself_changes_nothing() -> None:
    def prop(lines: list[str]) -> None:
        once, _ = run([lines])
        text = once.decode().splitlines()
        assert run([text])[0] == once
        assert run([text, text])[0] == once

    check("idempotent", valid_lines, prop)


def test_every_input_line_is_accounted_for_exactly_once() -> None:
    def prop(files: list[list[str]]) -> None:
        _, report = run(files)
        for entry, lines in zip(report["inputs"], files, strict=True):
            assert entry["lines"] == len(lines)
            parts = entry["used"] + entry["duplicates"] + entry["rejected"] + entry["skipped"]
            assert parts == len(lines)
            assert entry["skipped"] == lines.count("")

    check("accounting", st.lists(any_lines, min_size=1, max_size=3), prop)


def test_the_merge_of_valid_inputs_validates_and_reads_back_the_same() -> None:
    fmt = ManifestFormat()

    def prop(lines: list[str]) -> None:
        written, report = run([lines])
        assert report["totals"]["rejected"] == 0
        validator = ManifestValidator()
        for number, raw in enumerate(written.splitlines(keepends=True), 1):
            validator.feed(raw)
            item = parse_line(number, raw)
            assert isinstance(item, Parsed)
            assert item.dropped == ()
            assert fmt.render(item.image) == raw  # the same canonical record, byte for byte
        # dataset-level rules (at least two classes, ...) depend on the draw, not on the merge
        assert [e for e in validator.finish().errors if e.line is not None] == []

    check("validate-and-read-back", valid_lines, prop)


JOBS = [("j1", DATES[0]), ("j2", DATES[1]), ("j3", "2021-05-05T05:05:05.5")]
answer = st.one_of(
    st.builds(
        lambda cls, job: classification("species", cls, job=job[0], date=job[1]),
        st.sampled_from(CLASSES),
        st.sampled_from(JOBS),
    ),
    st.builds(
        lambda picked, job: multilabel(
            "scene", {i: (CLASSES[i], 0.5) for i in picked}, job=job[0], date=job[1]
        ),
        st.sets(st.integers(0, len(CLASSES) - 1)),
        st.sampled_from(JOBS),
    ),
    st.builds(
        lambda cls, left, job: boxes("bb", [(cls, left, 2, 30, 40)], job=job[0], date=job[1]),
        st.sampled_from(CLASSES),
        st.integers(0, 40),
        st.sampled_from(JOBS),
    ),
)
verdict = st.builds(
    lambda name: verification("check", name, date="2030-01-01T00:00:00"),
    st.sampled_from(["good", "bad", "Bad"]),
)
consolidated_line = st.builds(
    lambda image, answers, verdicts: line(image, *answers, *verdicts),
    st.sampled_from(IMAGES[:3]),
    st.lists(answer, min_size=1, max_size=3),
    st.lists(verdict, max_size=1),
)
options = st.fixed_dictionaries(
    {
        "policy": st.sampled_from(["union", "vote", "latest", "first"]),
        "tie": st.sampled_from(["drop", "first", "latest"]),
        "quorum": st.sampled_from([None, 0.3, 1.0]),
        "iou": st.sampled_from([0.1, 0.5]),
        "on_reject": st.sampled_from(["labels", "image"]),
        "rename": st.sampled_from([[], ["dog=cat"]]),
    }
)


def test_consolidation_is_the_same_spooled_valid_and_accounted_for() -> None:
    """Whatever the policy: the spooled path gives the in-memory bytes (manifest, conflicts,
    relabel), the output validates line by line, and every line is accounted for."""

    def outputs(lines: list[str], spooled: bool, **chosen: Any) -> tuple[list[bytes], Any]:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory, "in.manifest")
            path.write_text("".join(text + "\n" for text in lines))
            names = ("out.manifest", "conflicts.jsonl", "relabel.manifest", "report.json")
            out, conflicts, relabel, report = (str(Path(directory, n)) for n in names)
            planning.MEMORY_PER_INPUT_BYTE = 1 << 30 if spooled else 6
            try:
                merge(
                    [str(path)],
                    out,
                    report=report,
                    conflicts=conflicts,
                    relabel=relabel,
                    workers=1,
                    memory_mb=16,
                    **chosen,
                )
            finally:
                planning.MEMORY_PER_INPUT_BYTE = 6
            files = [Path(p).read_bytes() for p in (out, conflicts, relabel)]
            return files, json.loads(Path(report).read_text())

    def prop(case: tuple[list[str], dict[str, Any]]) -> None:
        lines, chosen = case
        in_memory, report = outputs(lines, False, **chosen)
        spooled, spooled_report = outputs(lines, True, **chosen)
        assert spooled == in_memory
        assert spooled_report["consolidation"] == report["consolidation"]
        entry = report["inputs"][0]
        assert entry["lines"] == entry["used"] + entry["duplicates"] + entry["rejected"]
        validator = ManifestValidator()
        for raw in in_memory[0].splitlines(keepends=True):
            validator.feed(raw)
        assert [e for e in validator.finish().errors if e.line is not None] == []

    check(
        "consolidation",
        st.tuples(st.lists(consolidated_line, min_size=1, max_size=12), options),
        prop,
    )


# --- the nesting limit ------------------------------------------------------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.integers() | st.text(alphabet='ab"\\[]{}', max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text('k[\\"', max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


class _Pieces(io.RawIOBase):
    """A stream that returns its bytes in the given pieces, however much is asked for."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces[::-1]

    def read(self, size: int = -1) -> bytes:
        return self._pieces.pop() if self._pieces else b""


@SETTINGS
@given(
    st.lists(_JSON_VALUES, max_size=4),
    _JSON_VALUES,
    st.lists(st.integers(min_value=0, max_value=300), max_size=5),
    st.integers(min_value=3, max_value=8),  # the one-match path takes up to 3 levels
)
def test_the_record_scanner_agrees_with_a_parser_however_the_text_is_cut(
    values: list[Any], noise: Any, cuts: list[int], limit: int
) -> None:
    """Brackets and quotes inside strings, escapes and strings split across reads, other
    members around the list: the scanner yields what a parser reads, and a record deeper than
    the nesting limit as a bad record of its own, the records after it read on."""
    data = json.dumps({"noise": noise, "records": values, "after": noise}).encode()
    bounds = sorted({min(cut, len(data)) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]
    with patch.object(jsondoc, "MAX_NESTING", limit):
        found = list(jsondoc.records(cast(BinaryIO, _Pieces(pieces)), ["records"]))
    expected = [
        jsondoc.Bad(jsondoc.TOO_DEEP, b"") if _depth(value) > limit else value for value in values
    ]
    assert found == expected
