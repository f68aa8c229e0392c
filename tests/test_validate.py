"""ManifestValidator: each rule of formats.md §3 and §4 gives exactly its code and line."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from gtmerge.validate import Finding, ManifestValidator, ValidationResult, lines
from gtmerge.validate.manifest import LineChunk, check_chunk

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
DATE = "2020-03-06T17:46:39.176"


@pytest.fixture(autouse=True, params=["fast path", "rules only"])
def line_checks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with the C fast path for valid lines, and without it (gtmerge built
    without a C compiler): the findings must be the same."""
    if request.param == "rules only":
        monkeypatch.setattr(lines, "count_clean_labels", None)


def classification(ref: str = "s3://bucket/images/0.png", name: str = "cat", **meta: Any) -> dict:
    """An image-level line; ``meta`` overrides metadata fields (None removes one)."""
    metadata = {
        "confidence": 1,
        "job-name": "labeling-job/animals",
        "class-name": name,
        "human-annotated": "yes",
        "creation-date": DATE,
        "type": CLASSIFICATION,
    }
    _override(metadata, meta)
    return {"source-ref": ref, "animal": 0, "animal-metadata": metadata}


def boxes(
    ref: str = "s3://bucket/images/0.png",
    shapes: list[tuple[int, float, float, float, float]] | None = None,
    size: tuple[int, int] = (640, 480),
    class_map: dict[str, str] | None = None,
    **meta: Any,
) -> dict:
    """A bounding-box line; ``shapes`` are (class_id, left, top, width, height)."""
    shapes = [(0, 10, 10, 100, 100)] if shapes is None else shapes
    metadata = {
        "objects": [{"confidence": 0.9} for _ in shapes],
        "class-map": {"0": "cat", "1": "dog"} if class_map is None else class_map,
        "type": DETECTION,
        "human-annotated": "yes",
        "creation-date": DATE,
        "job-name": "labeling-job/boxes",
    }
    _override(metadata, meta)
    return {
        "source-ref": ref,
        "bounding-box": {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {"class_id": c, "left": x, "top": y, "width": w, "height": h}
                for c, x, y, w, h in shapes
            ],
        },
        "bounding-box-metadata": metadata,
    }


def _override(metadata: dict, changes: dict) -> None:
    for field, value in changes.items():
        field = field.replace("_", "-")
        if value is None:
            metadata.pop(field, None)
        else:
            metadata[field] = value


def good_lines(count: int = 9) -> list[dict]:
    """Valid image-level lines with two labels, so manifest-level rules stay quiet."""
    return [
        classification(f"s3://bucket/images/{n}.png", "cat" if n % 2 else "dog")
        for n in range(1, count + 1)
    ]


def encode(line: dict | bytes) -> bytes:
    return line if isinstance(line, bytes) else orjson.dumps(line)


def validate_lines(lines: list[dict | bytes], **kwargs: Any) -> ValidationResult:
    validator = ManifestValidator(**kwargs)
    for line in lines:
        validator.feed(encode(line) + b"\n")
    return validator.finish()


def codes(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return [(finding.code, finding.line) for finding in findings]


def only(line: dict | bytes, at: int = 4) -> ValidationResult:
    """Validate ``line`` placed at line ``at`` among nine valid lines."""
    lines: list[dict | bytes] = list(good_lines())
    lines.insert(at - 1, line)
    return validate_lines(lines)


def assert_only(
    result: ValidationResult, errors: list[tuple[str, int | None]], warnings=()
) -> None:
    assert codes(result.errors) == errors
    assert codes(result.warnings) == list(warnings)


# ---- a valid manifest ------------------------------------------------------------------------


def test_valid_manifest_has_no_findings_and_a_summary():
    lines = [*good_lines(), boxes("s3://bucket/images/b.png", [(0, 1, 2, 30, 40), (1, 5, 5, 9, 9)])]
    lines.append(
        classification("s3://bucket/images/s.png", "bird", creation_date="2013-11-18 02:53:27")
    )
    result = validate_lines(lines)
    assert result.errors == [] and result.warnings == [] and not result.has_errors
    summary = result.summary
    assert summary["total_json_lines"] == 11
    assert (summary["valid_json_lines"], summary["invalid_json_lines"]) == (11, 0)
    assert summary["ignored_json_lines"] == 0 and summary["error_json_line_indices"] == []
    assert summary["labels"] == {"bird": 1, "cat": 6, "dog": 5}
    assert summary["use_case"] == "IMAGE_LEVEL_LABELS"
    assert summary["buckets"] == ["bucket"]


def test_lines_fed_without_line_breaks_count_one_byte_each():
    validator = ManifestValidator()
    line = encode(classification())
    validator.feed(line)
    assert validator.finish().summary["bytes"] == len(line) + 1


# ---- invalid JSON and line format ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"source-ref": "s3://bucket/x.png", "animal": ', "Unexpected end"),
        (b'{"source-ref": "s3://bucket/\xff\xfe.png"}', "UTF-8"),
        (b"[1, 2]", "a JSON list"),
        (b'"s3://bucket/x.png"', "a JSON str"),
        (b"", "blank"),
        (b"   \r", "blank"),
    ],
)
def test_invalid_json_line(raw, reason):
    result = only(raw, at=3)
    assert_only(result, [("ERROR_INVALID_JSON_LINE", 3)])
    assert reason.lower() in result.errors[0].message.lower()
    assert result.summary["invalid_json_lines"] == 1


def test_line_over_100000_characters():
    line = classification(job_name="j" * 100_000)
    assert_only(only(line, at=2), [("ERROR_LINE_TOO_LONG", 2)])


def test_line_of_100000_multibyte_characters_is_not_too_long():
    name = "é" * 40_000  # 80,000 bytes over 100,000 characters? no: 40,000 characters
    line = classification(job_name=name * 2)  # 80,000 characters, 160,000 bytes
    assert_only(only(line), [])


# ---- source-ref ------------------------------------------------------------------------------


def test_missing_source_ref():
    line = classification()
    line["source_ref"] = line.pop("source-ref")
    assert_only(only(line, at=5), [("ERROR_MISSING_SOURCE_REF", 5)])


@pytest.mark.parametrize(
    "ref",
    [
        "https://bucket.s3.amazonaws.com/images/x.png",
        "S3://bucket/images/x.png",
        "s3://bucket",
        "s3://bucket/",
        "s3:///key.png",
        "s3://bad bucket/x.png",
        "/images/x.png",
        42,
        None,
    ],
)
def test_invalid_source_ref_format(ref):
    assert_only(only(classification(ref=ref), at=2), [("ERROR_INVALID_SOURCE_REF_FORMAT", 2)])


def test_duplicate_source_ref_names_both_lines():
    lines: list[dict | bytes] = [*good_lines(), classification("s3://bucket/images/3.png", "cat")]
    result = validate_lines(lines)
    assert_only(result, [("ERROR_DUPLICATE_SOURCE_REF", 10)])
    assert "first on line 3" in result.errors[0].message
    assert "no code" in result.errors[0].message


# ---- label attributes ------------------------------------------------------------------------


def test_attribute_without_metadata_twin():
    line = classification()
    line["animal-meta"] = line.pop("animal-metadata")
    result = only(line)
    assert_only(result, [("ERROR_NO_LABEL_ATTRIBUTES", 4)])
    assert "'animal'" in result.errors[0].message


def test_metadata_without_attribute():
    line = classification()
    del line["animal"]
    assert_only(only(line), [("ERROR_NO_LABEL_ATTRIBUTES", 4)])


def test_unannotated_record_is_a_warning_and_ignored():
    result = only({"source-ref": "s3://bucket/images/x.png"}, at=6)
    assert_only(result, [], [("WARNING_UNANNOTATED_RECORD", 6)])
    assert result.summary["ignored_json_lines"] == 1
    assert result.summary["valid_json_lines"] == 9


def test_rekognition_validation_keys_are_not_label_attributes():
    line = classification()
    line["errors"] = [{"code": "ERROR_X", "message": "old"}]
    line["warnings"] = []
    line["cl-errors"] = []
    line["cl-metadata"] = {"is_labeled": True}
    assert_only(only(line), [])


def test_unpaired_pass_through_keys_are_ignored_next_to_a_pair():
    line = classification()
    line["image-id"] = "IMG_0001"
    assert_only(only(line), [])


@pytest.mark.parametrize("value", [0.5, "abc", "-1", True, None, [1]])
def test_classification_value_must_be_an_integer(value):
    line = classification()
    line["animal"] = value
    result = only(line)
    assert_only(result, [("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", 4)])
    assert result.errors[0].attribute == "animal"


def test_classification_value_may_be_a_string_of_digits():
    line = classification()
    line["animal"] = "0"
    assert_only(only(line), [])


@pytest.mark.parametrize(
    "change, field",
    [
        ({"confidence": None}, "'confidence'"),
        ({"confidence": 1.5}, "'confidence'"),
        ({"confidence": -0.1}, "'confidence'"),
        ({"confidence": "1"}, "'confidence'"),
        ({"confidence": True}, "'confidence'"),
        ({"class_name": None}, "'class-name'"),
        ({"class_name": ""}, "'class-name'"),
        ({"human_annotated": "maybe"}, "'human-annotated'"),
        ({"human_annotated": True}, "'human-annotated'"),
        ({"creation_date": "yesterday"}, "'creation-date'"),
        ({"creation_date": "2020-02-30T10:00:00"}, "'creation-date'"),
        ({"creation_date": None}, "'creation-date'"),
        ({"job_name": 7}, "'job-name'"),
        ({"type": None}, "'type'"),
    ],
)
def test_classification_metadata_format(change, field):
    result = only(classification(**change), at=7)
    assert_only(result, [("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", 7)])
    assert field in result.errors[0].message
    assert result.errors[0].attribute == "animal-metadata"


def test_metadata_that_is_not_an_object():
    line = classification()
    line["animal-metadata"] = "cat"
    assert_only(only(line), [("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", 4)])


@pytest.mark.parametrize("date", ["2021-06-22T10:11:18.006Z", "2020-05-15T08:01:16+0000", DATE])
def test_creation_date_forms_from_aws_examples(date):
    assert_only(only(classification(creation_date=date)), [])


def test_multilabel_type_on_the_only_attribute():
    line = classification(type="groundtruth/image-classification-multilabel")
    result = only(line, at=2)
    assert_only(
        result,
        [("ERROR_NO_VALID_LABEL_ATTRIBUTES", 2), ("ERROR_UNSUPPORTED_USE_CASE_TYPE", 2)],
    )
    assert result.errors[1].attribute == "animal-metadata"
    assert result.summary["invalid_json_lines"] == 1


def test_unsupported_type_next_to_a_valid_attribute_keeps_the_line():
    line = classification()
    line["seg-ref"] = "s3://bucket/masks/0.png"
    line["seg-ref-metadata"] = {"type": "groundtruth/semantic-segmentation"}
    result = only(line)
    assert_only(result, [("ERROR_UNSUPPORTED_USE_CASE_TYPE", 4)])
    assert result.summary["valid_json_lines"] == 10


def test_dagger_error_stops_the_line_before_other_checks():
    """§4.4 precedence: a later † error hides an earlier non-† one."""
    line = classification(type="groundtruth/image-classification-multilabel")
    line["second"] = 0
    line["second-metadata"] = classification(confidence=7)["animal-metadata"]
    assert_only(only(line), [("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", 4)])


def test_label_name_over_256_characters():
    result = only(classification(name="x" * 257), at=3)
    assert_only(result, [("ERROR_INVALID_LABEL_NAME_LENGTH", 3)])
    assert result.errors[0].attribute == "animal-metadata"


def test_label_name_of_256_characters_is_fine():
    assert_only(only(classification(name="x" * 256)), [])


def test_more_than_50_labels_on_an_image():
    line = classification()
    for n in range(51):
        line[f"label{n}"] = 0
        line[f"label{n}-metadata"] = classification(name=f"tag{n % 2} {n}")["animal-metadata"]
    result = only(line)
    assert_only(result, [("ERROR_TOO_MANY_LABELS_PER_IMAGE", 4)])
    assert "no code" in result.errors[0].message


# ---- bounding boxes --------------------------------------------------------------------------


def test_image_size_as_a_plain_object():
    line = boxes()
    line["bounding-box"]["image_size"] = {"width": 640, "height": 480, "depth": 3}
    result = only(line)
    assert_only(result, [("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", 4)])
    assert "'image_size'" in result.errors[0].message


@pytest.mark.parametrize(
    "mutate",
    [
        lambda attr: attr.update(annotations={"class_id": 0}),
        lambda attr: attr["annotations"][0].pop("top"),
        lambda attr: attr["annotations"][0].update(class_id="0"),
        lambda attr: attr["annotations"][0].update(left="10"),
        lambda attr: attr["image_size"][0].update(width=0),
        lambda attr: attr["image_size"][0].pop("depth"),
    ],
)
def test_box_attribute_format(mutate):
    line = boxes()
    mutate(line["bounding-box"])
    result = only(line, at=8)
    assert_only(result, [("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", 8)])
    assert result.errors[0].attribute == "bounding-box"


@pytest.mark.parametrize(
    "change",
    [
        {"class-map": None},
        {"class-map": {"0": 5}},
        {"objects": {"confidence": 1}},
        {"human-annotated": "Yes"},
        {"creation-date": 20200306},
    ],
)
def test_box_metadata_format(change):
    line = boxes()
    _override(line["bounding-box-metadata"], change)
    result = only(line)
    assert_only(result, [("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", 4)])


def test_box_confidence_out_of_range():
    line = boxes(objects=[{"confidence": 3}])
    assert_only(only(line), [("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", 4)])


@pytest.mark.parametrize("objects", [[{"confidence": 1}], [{"confidence": 1}, {}], None])
def test_missing_bounding_box_confidence(objects):
    line = boxes(shapes=[(0, 1, 1, 50, 50), (1, 60, 60, 50, 50)], objects=objects)
    assert_only(only(line, at=2), [("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", 2)])


def test_missing_class_map_id():
    line = boxes(shapes=[(0, 1, 1, 50, 50), (5, 60, 60, 50, 50)])
    result = only(line, at=9)
    assert_only(result, [("ERROR_MISSING_CLASS_MAP_ID", 9)])
    assert result.errors[0].annotation == 1


def test_class_ids_need_not_be_consecutive_nor_the_map_complete():
    line = boxes(
        shapes=[(0, 1, 1, 50, 50), (5, 60, 60, 50, 50), (5, 200, 60, 50, 50)],
        class_map={"0": "cat", "5": "dog"},
    )
    assert_only(only(line), [])


def test_more_than_50_boxes():
    line = boxes(shapes=[(0, n, n, 10, 10) for n in range(51)])
    assert_only(only(line), [("ERROR_TOO_MANY_BOUNDING_BOXES", 4)])


@pytest.mark.parametrize(
    "shape", [(0, 600, 10, 100, 100), (0, -1, 10, 50, 50), (0, 10, 10, 50, -5)]
)
def test_off_frame_or_negative_box_excludes_only_that_box(shape):
    line = boxes(shapes=[(1, 10, 10, 50, 50), shape])
    result = only(line)
    assert_only(result, [("ERROR_INVALID_BOUNDING_BOX", 4)])
    assert (result.errors[0].attribute, result.errors[0].annotation) == ("bounding-box", 1)
    assert result.summary["valid_json_lines"] == 10


def test_box_too_small_after_scaling_to_1280():
    # 4000 px wide: scale 0.32, so 3 px becomes 0.96 px; 4 px becomes 1.28 px.
    line = boxes(shapes=[(0, 10, 10, 3, 100), (1, 10, 10, 4, 4)], size=(4000, 3000))
    result = only(line)
    assert_only(result, [("ERROR_BOUNDING_BOX_TOO_SMALL", 4)])
    assert result.errors[0].annotation == 0


def test_no_valid_box_in_the_line():
    line = boxes(shapes=[(0, 700, 10, 10, 10), (1, 10, 10, 1, 1)])
    result = only(line, at=5)
    assert_only(
        result,
        [
            ("ERROR_NO_VALID_ANNOTATIONS", 5),
            ("ERROR_INVALID_BOUNDING_BOX", 5),
            ("ERROR_BOUNDING_BOX_TOO_SMALL", 5),
        ],
    )
    assert result.summary["invalid_json_lines"] == 1


def test_empty_box_list_not_human_annotated():
    result = only(boxes(shapes=[], human_annotated="no"))
    assert_only(result, [], [("WARNING_NO_ATTRIBUTE_ANNOTATIONS", 4)])
    assert result.summary["ignored_json_lines"] == 1


def test_empty_box_list_human_annotated():
    result = only(boxes(shapes=[]), at=3)
    assert_only(
        result, [], [("WARNING_NO_ANNOTATIONS", 3), ("WARNING_NO_ATTRIBUTE_ANNOTATIONS", 3)]
    )


def test_empty_box_list_next_to_a_label_keeps_the_line():
    line = boxes(shapes=[])
    line.update({k: v for k, v in classification().items() if k != "source-ref"})
    result = only(line)
    assert_only(result, [], [("WARNING_NO_ATTRIBUTE_ANNOTATIONS", 4)])
    assert result.summary["valid_json_lines"] == 10


# ---- manifest level --------------------------------------------------------------------------


def test_empty_manifest():
    assert_only(validate_lines([]), [("ERROR_EMPTY_MANIFEST", None)])


def test_manifest_over_1_gb():
    validator = ManifestValidator()
    for line in good_lines():
        validator.feed(encode(line))
    assert_only(
        validator.finish(total_bytes=(1 << 30) + 1), [("ERROR_MANIFEST_SIZE_TOO_LARGE", None)]
    )


def test_more_lines_than_the_quota_validates_only_up_to_it():
    lines: list[dict | bytes] = [*good_lines(10), b"not json", b"not json"]
    result = validate_lines(lines, max_lines=10)
    assert_only(result, [("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", None)])
    assert "12 lines" in result.errors[0].message
    assert_only(validate_lines(lines[:10], max_lines=10), [])


def test_images_in_several_buckets():
    lines = [*good_lines(), classification("s3://other-bucket/x.png")]
    result = validate_lines(lines)
    assert_only(result, [("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS", None)])
    assert "other-bucket (1 lines, first on line 10)" in result.errors[0].message


def test_more_than_250_labels():
    lines = [classification(f"s3://bucket/{n}.png", f"label {n}") for n in range(251)]
    assert_only(validate_lines(lines), [("ERROR_MANIFEST_TOO_MANY_LABELS", None)])


def test_one_image_level_label_is_too_few():
    lines = [classification(f"s3://bucket/{n}.png", "cat") for n in range(5)]
    result = validate_lines(lines)
    assert_only(result, [("ERROR_MANIFEST_TOO_FEW_LABELS", None)])
    assert "at least 2" in result.errors[0].message and "quotas page" in result.errors[0].message


def test_one_localization_label_is_enough():
    lines = [boxes(f"s3://bucket/{n}.png") for n in range(5)]
    result = validate_lines(lines)
    assert_only(result, [])
    assert result.summary["use_case"] == "OBJECT_LOCALIZATION"


def test_no_usable_label_at_all():
    lines = [{"source-ref": f"s3://bucket/{n}.png"} for n in range(3)]
    result = validate_lines(lines)
    assert_only(
        result,
        [("ERROR_MANIFEST_TOO_FEW_LABELS", None)],
        [("WARNING_UNANNOTATED_RECORD", n) for n in (1, 2, 3)],
    )


def test_twenty_percent_of_invalid_lines_is_still_accepted():
    lines: list[dict | bytes] = [*good_lines(8), b"{", b""]
    result = validate_lines(lines)
    assert_only(result, [("ERROR_INVALID_JSON_LINE", 9), ("ERROR_INVALID_JSON_LINE", 10)])


def test_over_twenty_percent_invalid_is_cumulative_over_rules():
    lines: list[dict | bytes] = [*good_lines(7), b"{", {"source-ref": "https://x/y.png"}, b""]
    result = validate_lines(lines)
    assert codes(result.errors) == [
        ("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", None),
        ("ERROR_INVALID_JSON_LINE", 8),
        ("ERROR_INVALID_SOURCE_REF_FORMAT", 9),
        ("ERROR_INVALID_JSON_LINE", 10),
    ]
    assert "3 of 10" in result.errors[0].message


def test_ignored_lines_do_not_count_toward_twenty_percent():
    lines = [*good_lines(4), *({"source-ref": f"s3://bucket/u{n}.png"} for n in range(6))]
    result = validate_lines(lines)
    assert result.errors == []
    assert result.summary["ignored_json_lines"] == 6


def test_findings_are_plain_data():
    result = only(b"{")
    assert result.summary_dict()["errors"] == [
        {
            "code": "ERROR_INVALID_JSON_LINE",
            "line": 4,
            "message": result.errors[0].message,
            "attribute": None,
            "annotation": None,
            "manifest": None,
        }
    ]
    assert copy.deepcopy(result.summary_dict()) == orjson.loads(orjson.dumps(result.summary_dict()))


# ---- one manifest checked in chunks (merge validates its output in its workers) -------------


def test_chunks_checked_apart_and_absorbed_give_the_whole_result():
    lines: list[dict | bytes] = list(good_lines(20))
    lines[2] = b"{oops"
    lines[5] = classification("s3://other-bucket/x.png")
    lines[6] = boxes("s3://bucket/b.png", [(0, 10, 10, 0.5, 100)])  # too small: an error
    lines[11] = boxes("s3://bucket/c.png", [(0, 600, 10, 100, 100)])  # off the image
    lines[12] = {"source-ref": "s3://bucket/unannotated.png"}  # a warning
    lines[16] = boxes("s3://bucket/d.png", [(0, 610, 10, 100, 100)])
    lines[17] = b"[1]"
    encoded = [encode(line) + b"\n" for line in lines]
    options: dict[str, Any] = {"remember_refs": False, "max_findings": 2}
    whole = validate_lines(lines, **options)
    assert whole.summary["findings_by_code"]["ERROR_INVALID_JSON_LINE"] == 2
    assert len(whole.errors) < sum(whole.summary["findings_by_code"].values())  # some capped
    for size in (1, 3, 7, 20):
        validator = ManifestValidator(**options)
        for start in range(0, len(encoded), size):
            chunk = LineChunk(start, encoded[start : start + size], max_findings=2)
            validator.absorb(check_chunk(chunk))
        assert validator.finish() == whole, size
