"""Runs that used to lose a user's data (issue #11, items 1 to 4): an annotated copy written over
its own input, an interrupted annotation, a report that cannot be written, attribute names whose
numbered forms collide."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import boxes, classification, line, manifest

from gtmerge.cli import main


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("attribute", "box_attribute"),
    [("a", "a1"), ("a1", "a"), ("label", "label0"), ("x", "x007")],
)
def test_attribute_names_whose_numbered_forms_collide_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], attribute: str, box_attribute: str
) -> None:
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg", classification("s", "dog"))))
    out = write(tmp_path, "out.manifest", "previous\n")
    argv = ["merge", str(source), "-o", str(out), "--attribute", attribute]
    assert main([*argv, "--box-attribute", box_attribute]) == 2
    long = max(attribute, box_attribute, key=len)
    assert capsys.readouterr().err == (
        f"gtmerge merge: attribute names {attribute!r} and {box_attribute!r} would collide: "
        f"both number an attribute {long + '0'!r}\n"
    )
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize(("attribute", "box_attribute"), [("a", "a1b"), ("a1", "b1"), ("a", "b")])
def test_attribute_names_that_cannot_collide_are_accepted(
    tmp_path: Path, attribute: str, box_attribute: str
) -> None:
    labels = [classification(f"s{n}", f"class{n}") for n in range(12)]
    source = write(
        tmp_path,
        "in.manifest",
        manifest(line("a.jpg", *labels, boxes("bb", [("cat", 1, 2, 3, 4)]))),
    )
    out = tmp_path / "out.manifest"
    argv = ["merge", str(source), "-o", str(out), "--attribute", attribute]
    assert main([*argv, "--box-attribute", box_attribute]) == 0
    (written,) = out.read_text().splitlines()
    assert written.count("-metadata") == 13
