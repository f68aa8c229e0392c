"""The Ground Truth reader's C fast path (``_fastgt.read_clean``) against the Python reader.

The fast path may leave any line to the Python reader, but a line it takes must come out as
the Python reader reads it: the same record, the same types (``True`` is not ``1``, ``1`` is
not ``1.0``), nothing dropped. Lines are generated the way Ground Truth writes them, then
damaged one field at a time with hostile values; and whole merges are compared byte for byte
with the fast path and without it.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from builders import boxes, classification, line, multilabel, verification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtmerge import fastpaths
from gtmerge.readers import groundtruth
from gtmerge.readers.groundtruth import parse_line

read_clean = groundtruth._read_clean
needs_c = pytest.mark.skipif(read_clean is None, reason="gtmerge.readers._fastgt was not built")
SETTINGS = settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

names = st.sampled_from(["deer", "elk", "Fox 🦊", "ü", "a\u0000b", "x" * 300, "", "deer", "elk"])
valid_dates = [
    "2018-10-18T22:18:13.527256",
    "2020-02-27 21:36:25Z",
    "2021-05-05T05:05:05.123456789+00:00",
]
invalid_dates = ["2020-02-30T00:00:00", "2020-01-01", "2020-01-01T00:00:00.1234567890"]
dates = st.sampled_from(valid_dates * 3 + invalid_dates)
attributes = st.sampled_from(["species", "scene", "bb", "bb-adjusted", "check", "-", "é"])
answer = st.one_of(
    st.builds(
        lambda attr, name, value, date: classification(attr, name, value, date=date),
        attributes,
        names,
        st.sampled_from([0, "3", 7]),
        dates,
    ),
    st.builds(
        lambda attr, picked: multilabel(attr, {i: (f"c{i}", 0.5) for i in picked}),
        attributes,
        st.sets(st.integers(0, 300), max_size=4),
    ),
    st.builds(
        lambda attr, shapes, adjustment, date: boxes(
            attr,
            [(f"c{i % 3}", left, top, 30, 40) for i, (left, top) in enumerate(shapes)],
            adjustment=adjustment,
            date=date,
        ),
        attributes,
        st.lists(st.tuples(st.integers(0, 600), st.integers(0, 400)), max_size=4),
        st.sampled_from([None, "adjusted", "unadjusted"]),
        dates,
    ),
    st.builds(lambda attr, verdict: verification(attr, verdict), attributes, names),
)
confidences = st.one_of(st.floats(0, 1), st.sampled_from([0, 1, 1.0, 1.5, -1, 2]))


def _varied(answer: dict[str, Any], human: str, confidence: float) -> dict[str, Any]:
    """``answer`` with its metadata's human-annotated and every confidence changed."""
    metadata = next(value for key, value in answer.items() if key.endswith("-metadata"))
    metadata["human-annotated"] = human
    if "confidence" in metadata:
        metadata["confidence"] = confidence
    for key in metadata.get("confidence-map", {}):
        metadata["confidence-map"][key] = confidence
    for box in metadata.get("objects", []):
        box["confidence"] = confidence
    return answer


varied_answer = st.builds(_varied, answer, st.sampled_from(["no", "yes"]), confidences)
hostile = st.one_of(
    st.sampled_from(
        [None, True, False, 0, 1, -1, 2, 2**31, 2**63, 2**70, 0.5, 1.5, -0.0, 1.0, 1e308, -1e-300]
    ),
    st.sampled_from(["", "yes", "no", "YES", "1", "deer", "2020-01-01T00:00:00"]),
    st.sampled_from([[], [{}], [1], {}, {"0": "x"}, {"width": 3}, [[]]]),
)


def _damage(obj: Any, path: list[int], value: Any) -> None:
    """Replace (or drop, for a path ending in -1) one field of ``obj``, chosen by ``path``."""
    for step in path[:-1]:
        children = list(obj.values()) if isinstance(obj, dict) else obj
        if not isinstance(children, list) or not children:
            return
        child = children[step % len(children)]
        if not isinstance(child, (dict, list)):
            break
        obj = child
    if isinstance(obj, dict) and obj:
        key = list(obj)[path[-1] % len(obj)]
        if path[-1] < 0:
            del obj[key]
        else:
            obj[key] = value
    elif isinstance(obj, list) and obj:
        obj[path[-1] % len(obj)] = value


damaged_line = st.builds(
    lambda image, answers, damages: _damaged(line(image, *answers), damages),
    st.builds("img{}.jpg".format, st.integers(0, 80)),
    st.lists(varied_answer, min_size=1, max_size=3),
    st.lists(st.tuples(st.lists(st.integers(-3, 40), min_size=1, max_size=5), hostile), max_size=2),
)


def _damaged(text: str, damages: list[tuple[list[int], Any]]) -> bytes:
    obj = json.loads(text)
    for path, value in damages:
        _damage(obj, path, copy.deepcopy(value))
    return json.dumps(obj, ensure_ascii=False).encode()


def _read(raw: bytes, monkeypatch: pytest.MonkeyPatch, fast: bool) -> str:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(groundtruth, "_read_clean", None)
        item = parse_line(1, raw, {})
    return repr(item)  # repr tells True from 1 and 1 from 1.0, as the output would


@needs_c
def test_a_line_the_fast_path_takes_reads_as_the_python_reader_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken = [0, 0]

    @SETTINGS
    @given(damaged_line)
    def prop(raw: bytes) -> None:
        assert read_clean is not None
        try:
            obj = orjson.loads(raw)  # what the reader gets: orjson's own types
        except orjson.JSONDecodeError:  # an integer past 64 bits: no line to read
            return
        taken[read_clean(obj) is not None] += 1
        if read_clean(obj) is not None:
            assert _read(raw, monkeypatch, True) == _read(raw, monkeypatch, False)

    prop()
    # the comparison above means something only if the fast path takes many of the lines
    assert taken[1] > sum(taken) / 8, taken


@needs_c
@pytest.mark.parametrize(
    "attributes",
    [
        [classification("species", "deer")],
        [classification("species", "deer", "3"), multilabel("scene", {1: ("sky", 1)})],
        [boxes("bb", [("elk", 1, 2, 3, 4)]), boxes("bb2", [("elk", 1, 2, 3, 5)], adjustment="x")],
    ],
)
def test_the_fast_path_takes_the_common_lines(attributes: list[dict[str, Any]]) -> None:
    assert read_clean is not None
    taken = read_clean(json.loads(line("a.jpg", *attributes)))
    assert taken is not None
    labels, box_sets = taken
    assert len(labels) + len(box_sets) == sum(
        len(a[next(iter(a))]) if isinstance(a[next(iter(a))], list) else 1 for a in attributes
    )


@needs_c
@pytest.mark.parametrize(
    "attributes",
    [
        [verification("check", "bad")],  # verdicts need the Python reader's targeting
        [multilabel("scene", {})],  # a blank answer
        [classification("species", "deer", confidence=1.5)],  # dropped, with a reason
        [{"seg": 1, "seg-metadata": {"type": "groundtruth/semantic-segmentation"}}],
    ],
)
def test_the_fast_path_leaves_everything_else_to_python(
    attributes: list[dict[str, Any]],
) -> None:
    assert read_clean is not None
    assert read_clean(json.loads(line("a.jpg", *attributes))) is None


def _merge(directory: Path, inputs: list[Path], pure: bool) -> tuple[bytes, ...]:
    out = directory / ("pure" if pure else "fast")
    out.mkdir()
    env = {**os.environ, fastpaths.PURE_PYTHON_VARIABLE: "1" if pure else "0"}
    args = [sys.executable, "-m", "gtmerge", "merge", *map(str, inputs), "--no-progress"]
    args += ["-o", str(out / "m"), "--rejects", str(out / "r"), "--report", str(out / "j")]
    args += ["--conflicts", str(out / "c"), "--policy", "vote", "--workers", "2"]
    done = subprocess.run(args, env=env, capture_output=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    results = [(out / name).read_bytes() for name in "mrcj"] + [done.stderr]
    return tuple(result.replace(str(out).encode(), b"OUT") for result in results)


@needs_c
def test_a_whole_merge_gives_the_same_bytes_with_and_without_the_fast_path(
    tmp_path: Path,
) -> None:
    """Manifest, rejects, conflicts, report and summary, over many kinds of damaged lines."""
    found: list[bytes] = []

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(damaged_line)
    def collect(raw: bytes) -> None:
        found.append(raw)

    collect()
    inputs = []
    for index in range(0, len(found), 50):
        path = tmp_path / f"in{index}.manifest"
        path.write_bytes(b"".join(raw + b"\n" for raw in found[index : index + 50]))
        inputs.append(path)
    fast, pure = _merge(tmp_path, inputs, pure=False), _merge(tmp_path, inputs, pure=True)
    assert fast[0].count(b"\n") > 20  # images were written: the comparison means something
    assert fast == pure


def test_version_says_which_code_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gtmerge", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "40"},  # argparse's own action wrapped it there
    )
    assert done.stdout.startswith("gtmerge 0.1.0 (") and done.stdout.count("\n") == 1
    expected = "Ground Truth reader" if read_clean is not None else "pure Python"
    assert expected in done.stdout


key_fragments = st.sampled_from(
    ['{"source-ref":"', '"source-ref"', "s3://", "s3:/", "/", "%", "\\", '"', "b", "k", "é", ","]
)


@needs_c
def test_the_key_found_without_parsing_is_the_python_one() -> None:
    fast = groundtruth._fast_leading_key
    assert fast is not None
    found = [0]

    @SETTINGS
    @given(st.lists(key_fragments, max_size=12).map(lambda parts: "".join(parts).encode()))
    def prop(raw: bytes) -> None:
        starts = (b"", b'{"source-ref":"', b'{"source-ref":"s3://', b'{"source-ref":"s3://b/k')
        for text in (start + raw for start in starts):
            assert fast(text) == groundtruth._leading_key(text), text
            found[0] += fast(text) is not None

    prop()
    assert found[0] > 50  # keys were found, not only refused
