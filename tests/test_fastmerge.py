"""The C paths of the merge against their Python twins: spooling and merging.

The C spooler (``_fastgt.spool_lines``) may leave any line to Python, but the spool files and
counts must be what Python writes, whatever the line breaks, blank runs, overlong lines and
buffer boundaries. The C table (``gtmerge/_fastmerge.c``) may hand any image to the Python
merge, but what it writes itself must be what the Python merge writes: the same manifest
bytes, rejects, conflicts, images to relabel and report. Images are generated as several jobs
answer them (agreeing, disagreeing, chained copies, adjustments, verdicts, empty selections,
failures, broken lines), with hostile names and numbers, spread over Ground Truth files and a
CSV export, and merged both ways in one process.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import boxes, classification, multilabel, verification
from builders import line as spaced_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtmerge import api, fastmerge, finalmerge, merger, spool
from gtmerge.consolidate.config import Consolidation
from gtmerge.report import OutputStats
from gtmerge.s3 import S3Settings
from gtmerge.sources import MAX_LINE_BYTES, Source
from gtmerge.writer import ManifestFormat

needs_c = pytest.mark.skipif(
    fastmerge.image_table(Consolidation(), ManifestFormat(), OutputStats()) is None,
    reason="gtmerge._fastmerge was not built",
)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# JSON's own escapes, control characters, DEL, a line separator, non-ASCII, long names
names = st.sampled_from(
    ["deer", "elk", 'say "hi"', "back\\slash", "tab\there", "a\x00b\x1f", "del\x7f", "ls\u2028",
     "Fox 🦊", "ü", "n" * 256, "deer", "elk"]
)  # fmt: skip
jobs = st.sampled_from(["job-a", "job-b", 'labeling-job/é"\\', None])
dates = st.sampled_from(
    ["2018-10-18T22:18:13.527256", "2020-02-27 21:36:25Z", "2021-05-05T05:05:05+00:00"]
)
confidences = st.one_of(
    st.floats(0, 1), st.sampled_from([0, 1, 1.0, -0.0, 5e-324, 1e-7, 0.1 + 0.2, 0.87])
)
coordinates = st.one_of(
    st.integers(0, 600),
    st.sampled_from([2**31, 2**40, 2**63 - 1, 2**64 - 1, -5, 1e300, 0.5, 1e-9]),
)
attributes = st.sampled_from(["species", "scene", "bb", "check"])


def line(image: str, *attributes: dict[str, Any]) -> str:
    """A line as Ground Truth writes it: compact (the C paths take only such lines)."""
    return orjson.dumps(json.loads(spaced_line(image, *attributes))).decode()


def _classification(draw: st.DrawFn) -> dict[str, Any]:
    answer = classification(
        draw(attributes),
        draw(names),
        draw(st.sampled_from([0, 3, "3"])),  # type: ignore[arg-type]
        confidence=draw(confidences),
        human=draw(st.sampled_from(["yes", "no"])),
        date=draw(dates),
        job=draw(jobs),
    )
    return answer


def _multilabel(draw: st.DrawFn) -> dict[str, Any]:
    picked = draw(st.lists(st.tuples(names, confidences), max_size=4))
    return multilabel(
        draw(attributes), {i: pick for i, pick in enumerate(picked)}, date=draw(dates)
    )


def _boxes(draw: st.DrawFn) -> dict[str, Any]:
    shapes: list[tuple[str, Any, Any]] = draw(
        st.lists(st.tuples(names, coordinates, coordinates), max_size=5)
    )
    answer = boxes(
        draw(attributes),
        [(name, left, top, 30, 40) for name, left, top in shapes],
        size=draw(st.sampled_from([(640, 480), (2**40, 7), (2**64 - 1, 3)])),
        adjustment=draw(st.sampled_from([None, None, "adjusted", "unadjusted"])),
        job=draw(st.sampled_from(["boxes", "boxes-2"])),
        date=draw(dates),
    )
    metadata = answer[next(name for name in answer if name.endswith("-metadata"))]
    metadata["objects"] = [{"confidence": draw(confidences)} for _ in shapes]
    return answer


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    kinds = ["classification"] * 4 + ["multilabel", "boxes", "boxes", "verdict"]
    kind = draw(st.sampled_from(kinds))
    if kind == "classification":
        return _classification(draw)
    if kind == "multilabel":
        return _multilabel(draw)
    if kind == "boxes":
        return _boxes(draw)
    return verification(draw(attributes), draw(st.sampled_from(["good", "bad"])))


@st.composite
def image_lines(draw: st.DrawFn) -> list[str]:
    """The lines the inputs hold about one image: each one or more answers, some repeated."""
    image = draw(st.sampled_from(["a.jpg", "b.jpg", 'dir/é "q".jpg', "c.jpg", "d.png"]))
    image += str(draw(st.integers(0, 40)))
    lines = [
        line(image, *draw(st.lists(answers(), min_size=1, max_size=3)))
        for _ in range(draw(st.integers(1, 4)))
    ]
    extra = draw(st.sampled_from(["", "", "", "repeat", "failed", "broken", "spaced"]))
    if extra == "repeat":
        lines.append(lines[0])
    elif extra == "failed":
        failed = json.loads(lines[0])
        for key in failed:
            if key.endswith("-metadata"):
                failed[key]["failure-reason"] = "ClientError: timed out"
        lines.append(json.dumps(failed))
    elif extra == "broken":
        lines.append(lines[0][:-3])
    elif extra == "spaced":  # not the compact form: the Python reader reads it
        lines.append(json.dumps(json.loads(lines[0])))
    return lines


#: images the C tables wrote, and lines they read, themselves in the last merge
done_in_c: list[int] = []


def _merge(directory: Path, inputs: list[str], fast: bool, **options: Any) -> dict[str, Any]:
    """Every file a merge writes, and its report; ``fast``: with the C table."""
    out = directory / ("fast" if fast else "python")
    out.mkdir()
    files = {name: out / name for name in ("manifest", "rejects", "conflicts", "relabel", "report")}
    table, image_table = fastmerge._TABLE, fastmerge.image_table
    counts = [0, 0]

    def counted_table(*args: Any) -> _Counted | None:
        found = image_table(*args)
        return None if found is None else _Counted(found, counts)

    fastmerge._TABLE = table if fast else None
    fastmerge.image_table = counted_table  # type: ignore[assignment]
    try:
        api.merge(
            inputs,
            str(files["manifest"]),
            rejects=str(files["rejects"]),
            conflicts=str(files["conflicts"]),
            relabel=str(files["relabel"]),
            report=str(files["report"]),
            progress=False,
            **options,
        )
    finally:
        fastmerge._TABLE, fastmerge.image_table = table, image_table
    done_in_c[:] = counts
    found: dict[str, Any] = {name: path.read_bytes() for name, path in files.items()}
    report = orjson.loads(found.pop("report"))
    report.pop("output")
    found["report"] = report
    return found


class _Counted:
    """An ImageTable that counts the images it wrote itself and the lines it read itself."""

    def __init__(self, table: fastmerge.ImageTable, counts: list[int]) -> None:
        self.table, self.counts, self.answers = table, counts, table.answers

    def add_lines(self, *args: Any) -> tuple[int, int, int]:
        used, parsed, duplicates = self.table.add_lines(*args)
        self.counts[1] += parsed
        return used, parsed, duplicates

    def add_record(self, *args: Any) -> bool:
        return self.table.add_record(*args)

    def finish(self, *args: Any) -> tuple[int, int, int]:
        counts = self.table.finish(*args)
        self.counts[0] += counts[0]
        return counts


def _write_inputs(directory: Path, lines: list[str], seed: int) -> list[str]:
    random.Random(seed).shuffle(lines)
    paths = []
    for index in range(3):
        path = directory / f"job{index}.manifest"
        path.write_text("".join(text + "\n" for text in lines[index::3]), encoding="utf-8")
        paths.append(str(path))
    csv = directory / "legacy.csv"
    csv.write_text('a0.jpg,deer\nb1.jpg,elk,deer\na0.jpg,deer\nc2.jpg,"say ""hi"""\n')
    return [*paths, f"csv={csv}"]


@needs_c
@SETTINGS
@given(st.lists(image_lines(), min_size=1, max_size=25), st.integers(0, 9))
def test_the_c_merge_writes_what_the_python_merge_writes(
    tmp_path_factory: pytest.TempPathFactory, images: list[list[str]], seed: int
) -> None:
    directory = tmp_path_factory.mktemp("merge")
    inputs = _write_inputs(directory, [text for lines in images for text in lines], seed)
    options = {"workers": 1, "image_root": "s3://gt-bucket/images/"}
    fast = _merge(directory, inputs, fast=True, **options)
    assert fast == _merge(directory, inputs, fast=False, **options)


@needs_c
@pytest.mark.parametrize(
    "options",
    [
        {"policy": "vote", "attribute": 'la"bel\\', "box_attribute": "box\u2028"},
        {"policy": "latest", "verdicts": "count"},
        {"policy": "first", "on_reject": "image"},
        {"keep_classes": ["deer"]},
        {"questions": ["animal=species,scene"]},
    ],
)
def test_the_c_merge_follows_every_option(tmp_path: Path, options: dict[str, Any]) -> None:
    @settings(max_examples=80, derandomize=True, deadline=None, database=None)
    @given(image_lines())
    def generate(lines: list[str]) -> None:
        found.extend(lines)

    found: list[str] = []
    generate()
    inputs = _write_inputs(tmp_path, found, 0)
    options = {"workers": 1, "image_root": "s3://gt-bucket/images/", **options}
    fast = _merge(tmp_path, inputs, fast=True, **options)
    # the comparison means something: many images, some written in C unless the run needs Python
    assert fast["manifest"].count(b"\n") > 20
    in_c = "keep_classes" not in options and "questions" not in options
    assert (done_in_c[0] > 5 and done_in_c[1] > 20) == in_c
    assert fast == _merge(tmp_path, inputs, fast=False, **options)


@needs_c
def test_an_image_past_the_held_limit_is_left_out_as_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merger, "MAX_HELD", 12)
    monkeypatch.setattr(fastmerge, "MAX_HELD", 12)
    lines = [line("big.jpg", classification("species", f"c{i}", job=f"j{i}")) for i in range(9)]
    lines += [line("small.jpg", classification("species", "deer"))] * 2
    inputs = _write_inputs(tmp_path, lines, 0)
    fast = _merge(tmp_path, inputs, fast=True, workers=1, image_root="s3://gt-bucket/images/")
    assert fast["report"]["consolidation"]["images_over_answer_limit"] == 1
    assert b"big.jpg" not in fast["manifest"] and b"small.jpg" in fast["manifest"]
    slow = _merge(tmp_path, inputs, fast=False, workers=1, image_root="s3://gt-bucket/images/")
    assert fast == slow


@needs_c
def test_the_c_merge_writes_an_exact_line(tmp_path: Path) -> None:
    """One image, two jobs, a repeated line: the line a user gets, byte for byte."""
    species = classification("species", "Fox 🦊", job="job-a", confidence=0.87)
    scene = classification("scene", "tab\there", job=None, human="no", confidence=1)
    text = line("fox.jpg", species) + "\n" + line("fox.jpg", scene) + "\n"
    (tmp_path / "in.manifest").write_text(text + line("fox.jpg", species) + "\n")
    found = _merge(tmp_path, [str(tmp_path / "in.manifest")], fast=True, workers=1)
    # one image written in C, and two lines read in C: the third has an escape (\\t)
    assert done_in_c == [1, 2]
    assert found["manifest"].decode() == (
        '{"source-ref":"s3://gt-bucket/images/fox.jpg",'
        '"label0":0,"label0-metadata":{"confidence":0.87,"job-name":"job-a",'
        '"class-name":"Fox 🦊","human-annotated":"yes",'
        '"creation-date":"2018-10-18T22:18:13.527256",'
        '"type":"groundtruth/image-classification"},'
        '"label1":1,"label1-metadata":{"confidence":1,"class-name":"tab\\there",'
        '"human-annotated":"no","creation-date":"2018-10-18T22:18:13.527256",'
        '"type":"groundtruth/image-classification"}}\n'
    )
    assert found["report"]["inputs"][0]["duplicates"] == 1


def _spool(directory: Path, path: Path, fast: bool) -> tuple[Any, ...]:
    """Spool one input into 4 partitions; the files and counts it leaves."""
    out = directory / ("fast" if fast else "python")
    out.mkdir()
    task = spool.SpoolTask(
        0, Source(str(path), None, "groundtruth"), S3Settings(), None, str(out), 2, False
    )
    block = spool._SPOOL_BLOCK
    spooled_in_c.clear()

    def counted(*args: Any) -> tuple[int, int]:
        used, lines = block(*args)
        spooled_in_c.append(lines)
        return used, lines

    spool._SPOOL_BLOCK = counted if fast else None
    try:
        stats, _ = spool.spool_input(task)
    finally:
        spool._SPOOL_BLOCK = block
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    return files, stats.lines, stats.skipped, dict(stats.rejected), stats.parsed


#: lines the C spooler took, per call, in the last spool with it
spooled_in_c: list[int] = []


@pytest.mark.skipif(spool._SPOOL_BLOCK is None, reason="gtmerge.readers._fastgt was not built")
def test_the_c_spooler_spools_what_python_spools(tmp_path: Path) -> None:
    rng = random.Random(3)
    pieces = []
    for _ in range(9000):  # over 1 MiB: lines cross the reader's buffer
        image = f"img{rng.randrange(3000)}.jpg"
        pick = rng.randrange(14)
        text = line(image, classification("species", "deer" * rng.randrange(1, 40)))
        if pick == 0:
            text = "\n" * rng.randrange(1, 100) + text  # a run of blank lines
        elif pick == 1:
            text = " \t\r\n \r\n" + text  # blank lines of two kinds
        elif pick == 2:
            text = text.replace("deer", "d\\u00e9er")  # an escape: no key without parsing
        elif pick == 3:
            text = text[:-5]  # broken
        elif pick == 4:
            text = " " + text  # not the compact form
        elif pick == 5:
            text += "\r"  # CRLF
        elif pick == 6:
            text = "\x0b"  # whitespace, not a blank line
        pieces.append(text + "\n")
    pieces.insert(4000, "x" * (MAX_LINE_BYTES + 10) + "\n")  # over the line limit
    pieces.append(line("last.jpg", classification("species", "elk")))  # no final line break
    path = tmp_path / "in.manifest"
    path.write_text("".join(pieces))
    fast = _spool(tmp_path, path, fast=True)
    assert sum(spooled_in_c) > 4000  # most plain lines went through C
    assert fast == _spool(tmp_path, path, fast=False)
    assert fast[1] > 9000 and fast[2] > 100 and fast[3]  # lines, blank lines, rejections


@pytest.mark.skipif(finalmerge._MERGE_RUNS is None, reason="gtmerge._fastmerge was not built")
@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(st.lists(st.integers(1, 9000), unique=True), max_size=6),
    st.lists(st.integers(0, 9000), max_size=20),
    st.integers(1, 5),
)
def test_the_c_final_merge_hands_on_what_python_does(
    tmp_path_factory: pytest.TempPathFactory,
    runs: list[list[int]],
    wanted: list[int],
    chunk_lines: int,
) -> None:
    """The same chunks written and fed, lines of any length (past the C reader's first
    4 KiB too), and the same numbers of the order keys wanted, present or not."""
    directory = tmp_path_factory.mktemp("runs")
    paths, numbers = [], set()
    for index, positions in enumerate(runs):
        path = directory / f"run{index}"
        lines = []
        for position in sorted(positions):
            if position in numbers:  # an order key is one image's: in one run only
                continue
            numbers.add(position)
            body = b'{"n":%d,"pad":"%b"}\n' % (position, b"x" * (position % 7 * 1500))
            lines.append(b"%06d%012d" % (position % 3, position) + body)
        lines.sort()
        path.write_bytes(b"".join(lines))
        paths.append(str(path))
    keys = [b"%06d%012d" % (position % 3, position) for position in wanted]

    def merged(fast: bool) -> tuple[Any, ...]:
        written: list[bytes] = []
        fed: list[list[bytes]] = []
        merge_runs = finalmerge._MERGE_RUNS
        finalmerge._MERGE_RUNS = merge_runs if fast else None
        try:
            count, found = finalmerge.write_runs(paths, written.append, fed.append, keys)
        finally:
            finalmerge._MERGE_RUNS = merge_runs
        return count, found, written, fed

    chunks = finalmerge.CHUNK_LINES
    finalmerge.CHUNK_LINES = chunk_lines
    try:
        fast = merged(True)
        assert fast == merged(False)
    finally:
        finalmerge.CHUNK_LINES = chunks
    assert fast[0] == len(numbers)
