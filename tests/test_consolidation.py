"""Consolidation end to end: jobs that ask the same question, review verdicts, class filters.

The jobs below are a small labeling project: a species question asked three times (the third
job chained on the first, so its lines carry the first job's answer again), a multi-label
scene question asked by three jobs under three attribute names, a box job with a chained
adjustment and a chained verification that says Accept/Reject, and three box jobs that drew
the same object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builders import boxes, classification, line, manifest, multilabel, verification

from gtmerge import merge, merger, planning, validate
from gtmerge.cli import main

D1, D2, D3 = "2026-01-01T00:00:00", "2026-02-01T00:00:00", "2026-03-01T00:00:00"


def species(job: str, name: str, date: str, attr: str = "species") -> dict[str, Any]:
    return classification(attr, name, job=job, date=date)


def scene(attr: str, *names: str) -> dict[str, Any]:
    return multilabel(attr, {i: (n, 0.9) for i, n in enumerate(names)}, job=attr, date=D1)


BOXES = {
    "a.jpg": ("cat", 100, 100, 200, 200),
    "b.jpg": ("dog", 10, 10, 50, 50),
    "e.jpg": ("fox", 0, 0, 100, 100),
}


def drawn(image: str) -> dict[str, Any]:
    return boxes("boxes", [BOXES[image]], job="boxes", date="2026-01-05T00:00:00")


def adjusted(image: str) -> dict[str, Any]:
    name, left, top, width, height = BOXES[image]
    moved = 5 if image == "a.jpg" else 0
    status = "adjusted" if moved else "unadjusted"
    return boxes(
        "boxes-adjusted",
        [(name, left + moved, top, width, height)],
        adjustment=status,
        job="adjust",
        date="2026-01-10T00:00:00",
    )


def check(verdict: str) -> dict[str, Any]:
    return verification("boxes-check", verdict, job="check", date="2026-01-20T00:00:00")


def project(tmp_path: Path) -> list[str]:
    files = {
        "1-species.manifest": manifest(
            *(line(f"{i}.jpg", species("species-1", "deer", D1)) for i in "abcd")
        ),
        "2-species.manifest": manifest(
            line("a.jpg", species("species-2", "deer", D2)),
            line("b.jpg", species("species-2", "elk", D2)),
            line("c.jpg", species("species-2", "elk", D2)),
        ),
        # chained on job 1: each line carries job 1's answer again, which is not a second vote
        "3-species-chained.manifest": manifest(
            line("a.jpg", species("species-1", "deer", D1), species("s3", "deer", D3, "v3")),
            line("b.jpg", species("species-1", "deer", D1), species("s3", "elk", D3, "v3")),
            line("c.jpg", species("species-1", "deer", D1), species("s3", "moose", D3, "v3")),
        ),
        "4-scene.manifest": manifest(
            line("a.jpg", scene("scene-1", "indoor", "kitchen")),
            line("a.jpg", scene("scene-2", "indoor")),
            line("a.jpg", scene("scene-3", "indoor", "kitchen", "night")),
            line("b.jpg", scene("scene-1", "outdoor")),
            line("b.jpg", scene("scene-2")),
            line("b.jpg", scene("scene-3")),
        ),
        "5-boxes.manifest": manifest(*(line(i, drawn(i)) for i in BOXES)),
        "6-adjust.manifest": manifest(
            *(line(i, drawn(i), adjusted(i)) for i in ("a.jpg", "b.jpg"))
        ),
        "7-check.manifest": manifest(
            line("a.jpg", drawn("a.jpg"), adjusted("a.jpg"), check("Reject")),
            line("b.jpg", drawn("b.jpg"), adjusted("b.jpg"), check("Accept")),
            line("e.jpg", drawn("e.jpg"), check("REJECT")),
        ),
        "8-detect.manifest": manifest(
            line("f.jpg", boxes("det-1", [("cat", 100, 100, 50, 50), ("dog", 300, 300, 40, 40)])),
            line("f.jpg", boxes("det-2", [("cat", 104, 102, 50, 50)], job="d2")),
            line(
                "f.jpg", boxes("det-3", [("cat", 102, 98, 50, 50), ("owl", 0, 0, 9, 9)], job="d3")
            ),
        ),
    }
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(str(path))
    return paths


OPTIONS: dict[str, Any] = {
    "questions": ["species=species,v3", "scene=scene-1,scene-2,scene-3", "det=det-1,det-2,det-3"],
    "reject_verdicts": ["reject"],
}


def run(tmp_path: Path, name: str = "out", **options: Any) -> dict[str, Any]:
    paths = project(tmp_path)
    out = tmp_path / f"{name}.manifest"
    extra = {
        "conflicts": str(tmp_path / f"{name}.conflicts"),
        "relabel": str(tmp_path / f"{name}.relabel"),
        "report": str(tmp_path / f"{name}.json"),
    }
    merge(paths, str(out), **{**OPTIONS, **extra, **options})
    images = {}
    for text in out.read_text().splitlines():
        entry = json.loads(text)
        classes = [
            v["class-name"]
            for k, v in entry.items()
            if k.startswith("label") and k.endswith("-metadata")
        ]
        drawn_boxes = [
            (v["class-map"][str(a["class_id"])], a["left"], a["top"], a["width"], a["height"])
            for k, v in entry.items()
            if k.startswith("bounding-box") and k.endswith("-metadata")
            for a in entry[k[: -len("-metadata")]]["annotations"]
        ]
        images[entry["source-ref"].rsplit("/", 1)[1]] = (sorted(classes), drawn_boxes)
    conflicts = [json.loads(t) for t in Path(extra["conflicts"]).read_text().splitlines()]
    return {
        "images": images,
        "conflicts": conflicts,
        "relabel": Path(extra["relabel"]).read_text().splitlines(),
        "report": json.loads(Path(extra["report"]).read_text()),
        "bytes": [Path(p).read_bytes() for p in (str(out), *extra.values()) if "json" not in p],
        "out": str(out),
    }


def test_vote_keeps_majority_classes_and_boxes_and_applies_verdicts(tmp_path: Path) -> None:
    result = run(tmp_path, policy="vote")
    assert result["images"] == {
        "a.jpg": (["deer", "indoor", "kitchen"], []),
        "b.jpg": (["elk"], [("dog", 10, 10, 50, 50)]),
        "c.jpg": ([], []),
        "d.jpg": (["deer"], []),
        "e.jpg": ([], []),
        "f.jpg": ([], [("cat", 102, 100, 50, 50)]),
    }
    assert result["relabel"] == [
        '{"source-ref":"s3://gt-bucket/images/a.jpg"}',
        '{"source-ref":"s3://gt-bucket/images/e.jpg"}',
    ]
    assert not validate([result["out"]]).errors


def test_every_disagreement_is_in_the_conflicts_file(tmp_path: Path) -> None:
    conflicts = run(tmp_path, policy="vote")["conflicts"]
    found = [(c["source-ref"][-5:], c["question"], c["decision"]["kept"]) for c in conflicts]
    assert found == [
        ("a.jpg", "scene", ["indoor", "kitchen"]),
        ("b.jpg", "species", ["elk"]),
        ("b.jpg", "scene", []),
        ("c.jpg", "species", []),
        ("f.jpg", "det", [{"class": "cat", "left": 102, "top": 100, "width": 50, "height": 50}]),
    ]
    tie = conflicts[3]
    assert tie["answers"] == [
        {"attribute": "species", "job-name": "species-1", "creation-date": D1, "classes": ["deer"]},
        {"attribute": "species", "job-name": "species-2", "creation-date": D2, "classes": ["elk"]},
        {"attribute": "v3", "job-name": "s3", "creation-date": D3, "classes": ["moose"]},
    ]
    assert tie["decision"] == {
        "policy": "vote",
        "kept": [],
        "reason": "tie between deer, elk, moose: dropped",
    }


@pytest.mark.parametrize(("tie", "expected"), [("first", ["deer"]), ("latest", ["moose"])])
def test_ties_follow_tie(tmp_path: Path, tie: str, expected: list[str]) -> None:
    assert run(tmp_path, policy="vote", tie=tie)["images"]["c.jpg"][0] == expected


def test_latest_and_first_keep_one_answer_per_question(tmp_path: Path) -> None:
    latest = run(tmp_path, "latest", policy="latest")["images"]
    assert [latest[f"{i}.jpg"][0] for i in "abcd"] == [
        ["deer", "indoor", "kitchen", "night"],
        ["elk"],
        ["moose"],
        ["deer"],
    ]
    first = run(tmp_path, "first", policy="first")["images"]
    assert first["c.jpg"][0] == ["deer"]
    assert first["f.jpg"][1] == [("cat", 100, 100, 50, 50), ("dog", 300, 300, 40, 40)]


def test_the_report_counts_answers_agreement_and_drops(tmp_path: Path) -> None:
    report = run(tmp_path, policy="vote")["report"]
    consolidation = report["consolidation"]
    assert consolidation["questions"]["species"] | {"agreement": None} == {
        "images": 4,
        "one_answer": 1,
        "agreed": 1,
        "conflicts": 2,
        "agreement": None,
    }
    assert consolidation["questions"]["species"]["agreement"] == [
        {"jobs": ["s3", "species-1"], "images": 3, "agreed": 1, "rate": 0.3333},
        {"jobs": ["s3", "species-2"], "images": 3, "agreed": 2, "rate": 0.6667},
        {"jobs": ["species-1", "species-2"], "images": 3, "agreed": 1, "rate": 0.3333},
    ]
    assert consolidation["labels_dropped_by_reason"] == {
        "vote: below quorum": 2,
        "vote: outvoted": 1,
        "vote: tie": 3,
    }
    assert consolidation["boxes_dropped_by_reason"] == {
        "verdict: rejected": 2,
        "vote: below quorum": 2,
    }
    assert consolidation["rejected_images"] == 2
    assert consolidation["warnings"] == []
    for entry in report["inputs"]:
        assert entry["lines"] == entry["used"] + entry["duplicates"] + entry["rejected"]


def test_on_reject_image_leaves_the_image_out(tmp_path: Path) -> None:
    result = run(tmp_path, policy="vote", on_reject="image")
    assert sorted(result["images"]) == ["b.jpg", "c.jpg", "d.jpg", "f.jpg"]
    assert result["report"]["consolidation"]["images_dropped"] == 2
    # the disagreements of a rejected image are still written down
    first = result["conflicts"][0]
    assert (first["source-ref"][-5:], first["question"]) == ("a.jpg", "scene")
    assert first["decision"]["image"] == "left out: a verdict rejected it"
    assert len(result["conflicts"]) == 5


def test_verdicts_counted_only_change_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, verdicts="count")
    assert result["images"]["a.jpg"][1] == [("cat", 105, 100, 200, 200)]
    assert result["relabel"] == []


def test_a_default_bad_verdict_without_the_custom_name_rejects_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, reject_verdicts=["bad"])
    assert result["relabel"] == []


def test_spooled_on_two_workers_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = run(tmp_path, "memory", policy="vote", tie="latest")
    monkeypatch.setattr(planning, "MEMORY_PER_INPUT_BYTE", 1 << 30)
    spooled = run(tmp_path, "spooled", policy="vote", tie="latest", workers=2, memory_mb=16)
    assert spooled["bytes"] == in_memory["bytes"]
    assert spooled["report"]["consolidation"] == in_memory["report"]["consolidation"]


def test_renames_and_filters_apply_to_every_input_and_are_counted(tmp_path: Path) -> None:
    renames = tmp_path / "renames.csv"
    renames.write_text("from,to\nelk,deer\nmoose,deer\n")
    result = run(
        tmp_path,
        policy="vote",
        rename=[str(renames), "owl=bird"],
        drop_classes=["night"],
        keep_classes=["deer", "indoor", "cat", "dog", "fox"],
    )
    images = result["images"]
    assert images["b.jpg"][0] == ["deer"]
    assert images["c.jpg"][0] == ["deer"]
    assert images["a.jpg"][0] == ["deer", "indoor"]
    dropped = result["report"]["consolidation"]["labels_dropped_by_reason"]
    assert dropped["filter: --drop-class"] == 1
    assert dropped["filter: not a --keep-class"] == 3  # kitchen twice, outdoor once
    assert (
        result["report"]["consolidation"]["boxes_dropped_by_reason"]["filter: not a --keep-class"]
        == 1
    )  # the owl, renamed bird


def test_options_that_name_nothing_are_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*project(tmp_path), "-o", str(tmp_path / "o.manifest")]
    status = main(
        ["merge", *args, "--question", "q=nope", "--verifies", "x=boxes", "--rename", "emu=bird"]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "warning: --question q: no label attribute nope in the inputs" in err
    assert "warning: --verifies x=boxes: no verdict of attribute x was applied" in err
    assert "warning: --rename emu: no class emu in the inputs" in err


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("r.csv", "a,b\nb,a\n", "r.csv:2: renames form a cycle: a → b → a"),
        ("r.csv", "a,b\nc\n", "r.csv:2: expected two class names 'from,to', got ['c']"),
        ("r.csv", "a,b\na,c\n", "r.csv:2: a is renamed to c, but "),
        ("r.yaml", "a: b\nb: [c]\n", "r.yaml:2: a rename is one class name: another class name"),
        ("r.yaml", "a: b\nb: c\nc: a\n", "r.yaml:3: renames form a cycle: a → b → c → a"),
    ],
)
def test_a_bad_rename_file_fails_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, message: str
) -> None:
    renames = tmp_path / name
    renames.write_text(text)
    out = tmp_path / "o.manifest"
    status = main(["merge", str(tmp_path / "missing"), "-o", str(out), "--rename", str(renames)])
    assert status == 2
    assert f"gtmerge merge: {renames.parent}/{message}" in capsys.readouterr().err
    assert not out.exists()


def test_default_run_with_a_second_job_is_the_union_as_before(tmp_path: Path) -> None:
    images = run(tmp_path)["images"]
    assert images["c.jpg"][0] == ["deer", "elk", "moose"]
    assert images["a.jpg"][0] == ["deer", "indoor", "kitchen", "night"]


@pytest.mark.parametrize("on_reject", ["labels", "image"])
def test_an_adjustment_after_a_bad_verdict_wins_and_the_image_is_not_relabelled(
    tmp_path: Path, on_reject: str
) -> None:
    original = boxes("boxes", [("cat", 10, 10, 50, 50)], job="boxes", date=D1)
    bad = verification("boxes-check", "bad", job="check", date=D2)
    fixed = boxes(
        "boxes-adjusted", [("cat", 12, 10, 50, 50)], adjustment="adjusted", job="fix", date=D3
    )
    source = tmp_path / "chained.manifest"
    source.write_text(manifest(line("a.jpg", original), line("a.jpg", original, bad, fixed)))
    out, relabel, report = (tmp_path / n for n in ("o.manifest", "r.manifest", "r.json"))
    merge([str(source)], str(out), on_reject=on_reject, relabel=str(relabel), report=str(report))
    written = json.loads(out.read_text())
    assert written["bounding-box0"]["annotations"] == [
        {"class_id": 0, "top": 10, "left": 12, "width": 50, "height": 50}
    ]
    assert relabel.read_text() == ""
    consolidation = json.loads(report.read_text())["consolidation"]
    assert (consolidation["rejected_images"], consolidation["images_dropped"]) == (0, 0)


def test_an_empty_multilabel_answer_makes_its_question_multilabel(tmp_path: Path) -> None:
    source = tmp_path / "mixed.manifest"
    source.write_text(
        manifest(
            line("a.jpg", species("species-1", "deer", D1)),
            line("a.jpg", multilabel("tags", {}, job="tags", date=D2)),
        )
    )
    out, conflicts = tmp_path / "o.manifest", tmp_path / "c.jsonl"
    merge(
        [str(source)],
        str(out),
        policy="vote",
        tie="first",
        questions=["species=species,tags"],
        conflicts=str(conflicts),
    )
    written = json.loads(out.read_text())
    assert written["label0-metadata"]["class-name"] == "deer"
    assert json.loads(conflicts.read_text())["decision"] == {
        "policy": "vote",
        "kept": ["deer"],
        "reason": "majority, ties: first answer wins",
    }


def test_drop_and_keep_class_warnings_look_at_the_classes_after_renaming(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*project(tmp_path), "-o", str(tmp_path / "o.manifest"), "--rename", "moose=wapiti"]
    status = main(["merge", *args, "--keep-class", "wapiti", "--drop-class", "moose"])
    assert status == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == ["  warning: --drop-class moose: no class moose after --rename"]


def test_box_objects_drawn_by_half_the_answers_are_reported_as_ties(tmp_path: Path) -> None:
    source = tmp_path / "two.manifest"
    source.write_text(
        manifest(
            line("a.jpg", boxes("det-1", [("cat", 0, 0, 50, 50)], job="d1", date=D1)),
            line("a.jpg", boxes("det-2", [("dog", 200, 200, 50, 50)], job="d2", date=D2)),
        )
    )
    out, conflicts, report = (tmp_path / n for n in ("o.manifest", "c.jsonl", "r.json"))
    merge(
        [str(source)],
        str(out),
        policy="vote",
        questions=["det=det-1,det-2"],
        conflicts=str(conflicts),
        report=str(report),
    )
    consolidation = json.loads(report.read_text())["consolidation"]
    assert consolidation["boxes_dropped_by_reason"] == {"vote: tie": 2}
    assert json.loads(conflicts.read_text())["decision"]["reason"] == (
        "IoU 0.5: kept 0 of 2 objects, a quorum is 2 of 2 answers, ties: dropped"
    )


def test_a_rename_does_not_bring_back_boxes_an_adjustment_replaced(tmp_path: Path) -> None:
    result = run(tmp_path, verdicts="count", rename=["cat=feline"])
    assert result["images"]["a.jpg"][1] == [("feline", 105, 100, 200, 200)]


@pytest.mark.parametrize("on_reject", ["labels", "image"])
def test_an_attribute_every_answer_of_which_was_rejected_is_not_warned_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], on_reject: str
) -> None:
    source = tmp_path / "checked.manifest"
    checked = verification("species-check", "Blurry", job="quality", date=D2)
    source.write_text(manifest(line("a.jpg", species("species-1", "deer", D1), checked)))
    args = ["merge", str(source), "-o", str(tmp_path / "o.manifest"), "--on-reject", on_reject]
    options = ["--reject-verdict", "blurry", "--verifies", "species-check=species"]
    assert main([*args, *options, "--question", "sp=species"]) == 0
    err = capsys.readouterr().err
    assert "verdicts rejected 1 image" in err
    assert "warning" not in err


def test_an_image_with_too_many_answers_is_left_out_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(merger, "MAX_HELD", 10)
    lines = [line("big.jpg", species(f"job-{n}", "deer", D1)) for n in range(8)]
    path = tmp_path / "in.manifest"
    path.write_text(manifest(*lines, line("small.jpg", species("job-0", "elk", D1))))
    out, report = tmp_path / "out.manifest", tmp_path / "report.json"
    assert main(["merge", str(path), "-o", str(out), "--report", str(report)]) == 0
    assert [json.loads(t)["source-ref"] for t in out.read_text().splitlines()] == [
        "s3://gt-bucket/images/small.jpg"
    ]
    warning = (
        "s3://gt-bucket/images/big.jpg: left out, over 100,000 records, labels and boxes "
        "for one image"
    )
    assert f"warning: {warning}" in capsys.readouterr().err
    document = json.loads(report.read_text())
    assert document["consolidation"]["images_over_answer_limit"] == 1
    entry = document["inputs"][0]
    assert (entry["lines"], entry["used"], entry["duplicates"]) == (9, 9, 0)


@pytest.mark.parametrize("verdicts", ["apply", "count"])
def test_a_verdict_that_chained_jobs_copied_is_counted_once(
    tmp_path: Path, verdicts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verification job's output and two jobs chained on it carry the same verdict
    (attribute, job, date): one verdict per image, as for every other answer."""
    original = boxes("boxes", [("cat", 10, 10, 50, 50)], job="boxes", date=D1)
    bad = verification("boxes-check", "bad", job="check", date=D2)
    good = verification("boxes-check", "good", job="check", date=D2)
    later = species("species", "deer", D3)
    source = tmp_path / "chained.manifest"
    source.write_text(
        manifest(
            line("a.jpg", original, bad),
            line("b.jpg", original, good),
            line("a.jpg", original, bad, later),
            line("b.jpg", original, good, later),
            line("b.jpg", original, good, species("species-2", "elk", D3, "species-2")),
        )
    )
    report = tmp_path / "r.json"
    code = main([
        "merge", str(source), "-o", str(tmp_path / "o.manifest"), "--report", str(report),
        "--verdicts", verdicts,
    ])  # fmt: skip
    assert code == 0
    assert json.loads(report.read_text())["verification_verdicts"] == {
        "check": {"bad": 1, "good": 1}
    }
    mode = "applied" if verdicts == "apply" else "counted, not written"
    assert f"verification check: bad 1, good 1 ({mode})" in capsys.readouterr().err
