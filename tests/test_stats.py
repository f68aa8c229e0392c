"""`gtmerge stats`: the numbers in the table and in the page are the manifests' numbers."""

from __future__ import annotations

import html
import re
from pathlib import Path

import orjson
import pytest
from splitdata import class_counts, image_line, multilabel_lines, write

import gtmerge
from gtmerge.cli import main


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    train = [
        image_line("a.jpg", ["cat"], [("cat", 100, 50), ("dog", 500, 250)]),
        image_line("b.jpg", ["cat", "indoor"]),
        image_line("c.jpg", ["dog"]),
        image_line("d.jpg"),
    ]
    test = [image_line("e.jpg", ["cat"], [("cat", 950, 480)]), image_line("f.jpg", ["bird"])]
    return write(tmp_path / "train.manifest", train), write(tmp_path / "test.manifest", test)


def test_terminal_table(pair, capsys):
    train, test = pair
    assert main(["stats", train, "--test", test]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{train} (training): 4 images, 4 labels, 2 boxes, 3 classes, use case IMAGE_LEVEL_LABELS",
        f"{test} (test): 2 images, 2 labels, 1 boxes, 2 classes, use case IMAGE_LEVEL_LABELS",
        "",
        "class    train img    test img   train box    test box",
        "cat              2           1           1           1",
        "dog              2           0           1           0",
        "bird             0           1           0           0",
        "indoor           1           0           0           0",
        "",
        "classes per image (training): 0: 1, 1: 1, 2: 2",
        "classes per image (test): 1: 2",
        "box side / image side (training): 10-20% 1, 50-60% 1",
        "box side / image side (test): 90-100% 1",
        "",
        "Rekognition rules broken (training): WARNING_UNANNOTATED_RECORD (1): Record is "
        "unannotated.",
        "Rekognition rules broken (test): none",
        "Rekognition rules broken (training and test together): "
        "ERROR_INSUFFICIENT_LABEL_OVERLAP: Less than 50% label overlap between the training and "
        "test manifests. 1 of the 3 training labels are in the test manifest (33%). Not in the "
        "test manifest: dog, indoor.",
    ]


def bar_values(page: str, heading: str = "Images per class") -> dict[tuple[str, str], str]:
    """(class or bin, series) → the value each bar's tooltip gives, in the section whose
    heading starts with ``heading``."""
    section = page[page.index(f"<h2>{heading}") + 4 :]
    section = section.split("<h2>")[0]
    titles = re.findall(r"<rect [^>]*><title>(.*?)</title></rect>", section)
    values = {}
    for title in titles:
        name, _, rest = html.unescape(title).rpartition(", ")
        series, _, value = rest.partition(": ")
        values[name, series] = value
    return values


def charts(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def test_page_numbers_match_the_manifests(tmp_path):
    manifest = write(tmp_path / "in.manifest", multilabel_lines(800, 30, seed=4))
    train, test, page = tmp_path / "train", tmp_path / "test", tmp_path / "page.html"
    assert main(["split", manifest, "-o", str(train), "--test-output", str(test)]) == 0
    assert main(["stats", str(train), "--test", str(test), "--html", str(page)]) == 0
    text = page.read_text()
    values = bar_values(text)
    train_counts, test_counts = class_counts(train), class_counts(test)
    for name in train_counts | test_counts:
        assert values[name, "training"] == f"{train_counts[name]:,}"
        assert values[name, "test"] == f"{test_counts[name]:,}"
    assert f">{len(train.read_bytes().splitlines()):,}</b>" in text
    assert f"<b>{len(test.read_bytes().splitlines()) / 800:.1%}</b>" in text
    assert charts(text) == [
        f"Images per class ({len(train_counts | test_counts)} classes)",
        "Classes per image",
    ]
    assert '<div class="ok">✔ Rekognition: every rule is met.</div>' in text


def test_page_shows_boxes_sizes_and_broken_rules(pair, tmp_path):
    train, test = pair
    page = tmp_path / "page.html"
    gtmerge.stats(train, test=test, html=str(page))
    text = page.read_text()
    assert charts(text) == [
        "Images per class (4 classes)",
        "Boxes per class",
        "Classes per image",
        "Box sizes",
    ]
    values = bar_values(text)
    assert values["cat", "training"] == "2" and values["bird", "training"] == "0"
    boxes = bar_values(text, "Boxes per class")
    assert boxes["cat", "training"] == "1" and boxes["dog", "test"] == "0"
    sizes = bar_values(text, "Box sizes")
    assert sizes["90-100%", "test"] == "100%"
    assert sizes["10-20%", "training"] == "50%"
    assert bar_values(text, "Classes per image")["1", "training"] == "25%"  # 1 image in 4
    assert "⚠ no training image" in text  # bird
    assert "WARNING_UNANNOTATED_RECORD (1 line)" in text
    assert "✘ Rekognition would refuse this: 1 rule(s) broken" in text


def test_page_shows_the_merge_report(pair, tmp_path):
    train, _ = pair
    report = {
        "inputs": [
            {
                "input": "jobs/a/out.manifest",
                "lines": 5,
                "used": 3,
                "duplicates": 1,
                "rejected": 1,
                "skipped": 0,
                "rejected_by_reason": {"invalid JSON": 1},
            },
            {
                "input": "jobs/b/out.manifest",
                "lines": 2,
                "used": 2,
                "rejected_by_reason": {"failed item": 2},
            },
            "not an input",
        ],
        "verification_verdicts": {"labeling-job/verify": {"bad": 1, "good": 4}},
        "consolidation": {
            "policy": "vote",
            "tie": "latest",
            "quorum": None,
            "questions": {
                "species": {
                    "images": 9,
                    "one_answer": 1,
                    "agreed": 7,
                    "conflicts": 1,
                    "agreement": [
                        {"jobs": ["labeling-job/x", "y"], "images": 8, "agreed": 6, "rate": 0.75}
                    ],
                }
            },
            "labels_dropped_by_reason": {"vote: tie": 2},
            "boxes_dropped_by_reason": {"verdict: rejected": 3},
            "rejected_images": 1,
            "images_dropped": 0,
            "warnings": ["--question q: no label attribute nope in the inputs"],
        },
    }
    path = tmp_path / "r.json"
    path.write_bytes(orjson.dumps(report))
    page = tmp_path / "page.html"
    assert main(["stats", train, "--merge-report", str(path), "--html", str(page)]) == 0
    text = page.read_text()
    assert charts(text)[-4:] == [
        "Where the images came from (merge report)",
        "Rejections by reason",
        "Verification verdicts",
        "Agreement between jobs (consolidation)",
    ]
    inputs = bar_values(text, "Where the images came from")
    assert inputs["a", "used"] == "3" and inputs["b", "used"] == "2"
    assert bar_values(text, "Rejections")["failed item", "rejected records"] == "2"
    agreement = bar_values(text, "Agreement")
    assert agreement["species", "answers agreed"] == "7"
    assert agreement["species", "conflicts"] == "1"
    assert agreement["species: x ~ y", "agreement %"] == "75"
    assert agreement["vote: tie", "labels"] == "2"
    assert agreement["verdict: rejected", "boxes"] == "3"
    assert "<td>labeling-job/verify</td><td>1</td><td>4</td>" in text
    assert "policy vote · ties: latest · quorum: more than half" in text
    assert "1 image rejected by a verdict (0 left out)" in text
    assert "<li>--question q: no label attribute nope in the inputs</li>" in text


@pytest.mark.parametrize(
    "report", [b"[]", b"{}", b'{"inputs": 3, "consolidation": [1, 2], "verification_verdicts": []}']
)
def test_page_tolerates_reports_of_other_shapes(pair, tmp_path, report):
    path = tmp_path / "r.json"
    path.write_bytes(report)
    page = tmp_path / "p.html"
    status = main(["stats", pair[0], "--merge-report", str(path), "--html", str(page)])
    assert status == (2 if report == b"[]" else 0)


def test_unreadable_inputs_exit_2(tmp_path, pair, capsys):
    assert main(["stats", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"gtmerge stats: {tmp_path / 'missing'}: no such file\n"
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    page = tmp_path / "p.html"
    assert main(["stats", pair[0], "--merge-report", str(bad), "--html", str(page)]) == 2
    assert capsys.readouterr().err.startswith(f"gtmerge stats: {bad}: not a JSON merge report")
    assert not page.exists()


def test_merge_html_writes_the_page_of_the_run(tmp_path, capsys):
    out, page = tmp_path / "out.manifest", tmp_path / "run.html"
    assert (
        main(
            [
                "merge",
                "examples/*/manifests/output/output.manifest",
                "-o",
                str(out),
                "--html",
                str(page),
            ]
        )
        == 0
    )
    text = page.read_text()
    assert "Images per class (10 classes)" in text
    assert "Agreement between jobs (consolidation)" in text
    assert "Where the images came from (merge report)" in text
    assert (
        main(
            [
                "merge",
                "examples/species/manifests/output/output.manifest",
                "-o",
                "-",
                "--html",
                str(page),
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.endswith(
        "gtmerge merge: --html needs -o to name a file or an S3 object, not -\n"
    )


def test_page_warns_of_a_class_over_the_test_quota_and_keeps_its_captions_apart(tmp_path):
    """1,001 test images of one class: over Rekognition's quota of 1,000 per label, which has
    no error code. The page names it, and marks the quota with a caption of its own row (not
    over the caption of the 1-training-image mark to its left)."""
    train = [image_line(f"t{n}.jpg", ["cat", "dog"]) for n in range(8000)]
    test = [image_line(f"e{n}.jpg", ["cat"]) for n in range(1001)] + [image_line("d.jpg", ["dog"])]
    page = tmp_path / "page.html"
    gtmerge.stats(
        write(tmp_path / "train.manifest", train),
        test=write(tmp_path / "test.manifest", test),
        html=str(page),
    )
    text = page.read_text()
    assert "Rekognition accepts this, with warnings" in text
    assert (
        html.escape(
            "class 'cat' has 1,001 test images; Rekognition's quotas allow at most 1,000 per label"
        )
        in text
    )
    captions = dict(
        (html.unescape(caption), int(y))
        for y, caption in re.findall(r'y="(\d+)" font-size="11" fill="#b3261e">([^<]+)<', text)
    )
    assert (
        captions["≥ 1 training image per class"]
        - captions["≤ 1,000 test images per class (test bars)"]
        == 14
    )
