import json
from pathlib import Path

import pytest
from builders import boxes, classification, line, multilabel, verification

from gtmerge.model import Box, BoxSet, ImageRecord, ImageSize, Label, Verdict
from gtmerge.readers.base import Parsed, ReadContext, Rejection, Skipped
from gtmerge.readers.groundtruth import GroundTruthReader, image_key, parse_line
from gtmerge.sources import Source

KEY = "s3://gt-bucket/images/a.jpg"
BOX_DATE = "2018-11-20T22:18:13.527256"
VERIFY_BAD = verification("verify-bb", "bad")


def parse(text: str | bytes) -> Parsed | Rejection | Skipped:
    raw = text if isinstance(text, bytes) else text.encode()
    return parse_line(7, raw + b"\n")


def image_of(text: str) -> ImageRecord:
    item = parse(text)
    assert isinstance(item, Parsed), item
    assert item.dropped == ()
    return item.image


def reject_reason(text: str | bytes) -> str:
    item = parse(text)
    assert isinstance(item, Rejection), item
    assert item.line == 7
    return item.reason


def test_single_label_with_integer_or_string_value() -> None:
    for value in (0, "0"):
        image = image_of(line("a.jpg", classification("species", "dog", value, confidence=0.0)))
        assert image == ImageRecord(
            KEY,
            labels=(
                Label(
                    "dog",
                    0.0,
                    True,
                    "2018-10-18T22:18:13.527256",
                    "labeling-job/species",
                    "species",
                ),
            ),
        )


def test_multilabel_gives_one_label_per_class_in_list_order() -> None:
    image = image_of(
        line("a.jpg", multilabel("scene", {1: ("bicycle", 0.95), 0: ("person", 0.77)}))
    )
    assert [(label.name, label.confidence) for label in image.labels] == [
        ("bicycle", 0.95),
        ("person", 0.77),
    ]


def test_empty_multilabel_list_means_no_label_but_is_an_answer() -> None:
    item = parse(line("a.jpg", multilabel("scene", {})))
    assert isinstance(item, Parsed)
    blank = (("scene", "labeling-job/scene", "2020-02-27T21:36:25.000201"),)
    assert item.image == ImageRecord(KEY, blank_answers=blank)


def test_line_with_only_source_ref_is_an_unlabeled_image() -> None:
    assert image_of(line("a.jpg")) == ImageRecord(KEY)


def test_bounding_boxes_map_class_ids_through_the_class_map() -> None:
    image = image_of(
        line("a.jpg", boxes("bb", [("Echo", 86, 65, 220, 334), ("Echo Dot", 399, 251, 155, 101)]))
    )
    assert image.box_sets == (
        BoxSet(
            ImageSize(640, 480, 3),
            (Box("Echo", 86, 65, 220, 334, 0.8), Box("Echo Dot", 399, 251, 155, 101, 0.8)),
            True,
            "2018-11-20T22:18:13.527256",
            "labeling-job/boxes",
            "bb",
        ),
    )


def test_chained_classification_jobs_give_every_label() -> None:
    image = image_of(
        line("a.jpg", classification("species", "dog"), classification("color", "brown", 3))
    )
    assert [label.name for label in image.labels] == ["dog", "brown"]


def test_adjusted_box_set_replaces_the_sets_it_was_made_from() -> None:
    original = boxes("bb", [("dog", 100, 130, 60, 130)])
    adjusted = boxes("bb-adjusted", [("dog", 110, 135, 61, 128)], adjustment="adjusted")
    image = image_of(line("a.jpg", original, adjusted))
    assert [box_set.boxes[0].left for box_set in image.box_sets] == [110]
    assert [box_set.boxes[0].left for box_set in image.superseded] == [100]


def test_unadjusted_review_keeps_one_box_set_and_supersedes_nothing() -> None:
    original = boxes("bb", [("dog", 100, 130, 60, 130)])
    reviewed = boxes("bb-adjusted", [("dog", 100, 130, 60, 130)], adjustment="unadjusted")
    image = image_of(line("a.jpg", original, reviewed))
    assert len(image.box_sets) == 1
    assert image.superseded == ()


def test_verification_verdicts_are_not_labels() -> None:
    item = parse(
        line("a.jpg", boxes("bb", [("bird", 1, 2, 30, 40)]), verification("verify-bb", "bad"))
    )
    assert isinstance(item, Parsed)
    date = "2018-11-20T22:18:13.527256"
    assert item.image.verdicts == (Verdict("bad", "verify-bounding-boxes", "verify-bb", date),)
    assert item.image.labels == ()
    assert len(item.image.box_sets) == 1


def verified(text: str, verifies: dict[str, str] | None = None) -> Parsed | Rejection | Skipped:
    return parse_line(7, text.encode(), {} if verifies is None else verifies)


def test_a_verdict_verifies_the_one_box_attribute_of_its_line() -> None:
    species = classification("species", "dog")
    item = verified(line("a.jpg", species, boxes("bb", [("dog", 1, 2, 30, 40)]), VERIFY_BAD))
    assert isinstance(item, Parsed)
    assert item.image.verdicts[0].target == ("bb", "labeling-job/boxes", BOX_DATE)


def test_a_verdict_verifies_the_one_classification_attribute_when_there_is_no_box() -> None:
    item = verified(line("a.jpg", classification("species", "dog"), VERIFY_BAD))
    assert isinstance(item, Parsed)
    target = ("species", "labeling-job/species", "2018-10-18T22:18:13.527256")
    assert item.image.verdicts[0].target == target


def test_a_verdict_verifies_the_adjustment_made_before_it_not_the_originals() -> None:
    original = boxes("bb", [("dog", 1, 2, 30, 40)], date="2018-11-01T00:00:00")
    adjusted = boxes("bb-adj", [("dog", 2, 2, 30, 40)], adjustment="adjusted", job="adjust")
    item = verified(line("a.jpg", original, adjusted, VERIFY_BAD))
    assert isinstance(item, Parsed)
    assert item.image.verdicts[0].target == ("bb-adj", "adjust", BOX_DATE)


def test_an_attribute_added_after_the_verdict_is_not_what_it_verified() -> None:
    original = boxes("bb", [("dog", 1, 2, 30, 40)], date="2018-11-01T00:00:00")
    later = boxes(
        "bb-adj", [("dog", 2, 2, 30, 40)], adjustment="adjusted", date="2019-01-01T00:00:00"
    )
    item = verified(line("a.jpg", original, later, VERIFY_BAD))
    assert isinstance(item, Parsed)
    assert item.image.verdicts[0].target == ("bb", "labeling-job/boxes", "2018-11-01T00:00:00")


def test_an_ambiguous_verdict_is_dropped_with_a_reason_and_nothing_guessed() -> None:
    one = boxes("bb-1", [("dog", 1, 2, 30, 40)])
    two = boxes("bb-2", [("cat", 1, 2, 30, 40)], job="other")
    item = verified(line("a.jpg", one, two, VERIFY_BAD))
    assert isinstance(item, Parsed)
    assert item.image.verdicts == ()
    assert [(d.attribute, d.reason) for d in item.dropped] == [
        (
            "verify-bb",
            "verdict: cannot tell which attribute it verified: 2 bounding-box attributes "
            "could be the one verified (bb-1, bb-2); name it with --verifies verify-bb=ATTRIBUTE",
        )
    ]
    named = verified(line("a.jpg", one, two, VERIFY_BAD), {"verify-bb": "bb-2"})
    assert isinstance(named, Parsed)
    assert named.image.verdicts[0].target == ("bb-2", "other", BOX_DATE)


def test_verifies_naming_an_attribute_not_in_the_line_drops_the_verdict() -> None:
    text = line("a.jpg", boxes("bb", [("dog", 1, 2, 30, 40)]), VERIFY_BAD)
    item = verified(text, {"verify-bb": "boxes"})
    assert isinstance(item, Parsed)
    assert item.dropped[0].reason == "verdict: it verifies boxes (--verifies), not in the line"


SEGMENTATION = {
    "city-ref": "s3://b/mask.png",
    "city-ref-metadata": {
        "internal-color-map": {"0": {"class-name": "BACKGROUND"}},
        "type": "groundtruth/semantic-segmentation",
        "human-annotated": "yes",
        "creation-date": "2018-10-18T22:18:13.527256",
        "job-name": "label-city-streets",
    },
}


def test_unsupported_type_alone_rejects_the_line() -> None:
    assert reject_reason(line("a.jpg", SEGMENTATION)) == (
        "unsupported type: groundtruth/semantic-segmentation cannot become a Rekognition label"
        " (attribute city-ref)"
    )


def test_unsupported_type_beside_labels_drops_only_that_attribute() -> None:
    item = parse(line("a.jpg", classification("species", "dog"), SEGMENTATION))
    assert isinstance(item, Parsed)
    assert [label.name for label in item.image.labels] == ["dog"]
    [dropped] = item.dropped
    assert dropped.attribute == "city-ref"
    assert dropped.reason.startswith("unsupported type: groundtruth/semantic-segmentation")
    assert json.loads(dropped.raw)["city-ref"] == "s3://b/mask.png"


def test_custom_template_type_is_rejected() -> None:
    custom = {
        "x": {},
        "x-metadata": {"job_name": "j", "type": "groundTruth/custom", "human-annotated": "yes"},
    }
    assert reject_reason(line("a.jpg", custom)).startswith("unsupported type: groundTruth/custom")


def test_failed_items_are_rejected_with_their_reason() -> None:
    failed = {"species-metadata": {"failure-reason": "ClientError: expired", "type": "x"}}
    assert reject_reason(line("a.jpg", failed)) == (
        "failed item: 'ClientError: expired' (attribute species)"
    )
    orphan = {"species-metadata": classification("species", "dog")["species-metadata"]}
    assert reject_reason(line("a.jpg", orphan)) == (
        "failed item: metadata without its label attribute (attribute species)"
    )


def test_text_records_are_not_images() -> None:
    text = json.dumps({"source": "The food was delicious", **classification("mood", "positive")})
    assert reject_reason(text) == (
        "bad source-ref: the line has inline 'source' text, not an image"
    )


def test_blank_lines_are_skipped() -> None:
    assert parse(b"   \r") == Skipped(7)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"source-ref": "s3://b/a.jpg", "x": ', "invalid JSON: unexpected end of data"),
        (b'{"source-ref": "s3://b/\xff.jpg"}', "invalid JSON: str is not valid UTF-8"),
        (b'["s3://b/a.jpg"]', "not a JSON object"),
        (b'{"species": 0}', "bad source-ref: the line has no source-ref"),
        (b'{"source-ref": 42}', "bad source-ref: source-ref is a int, not a string"),
        (b'{"source-ref": "https://example.com/a.jpg"}', "bad source-ref: source-ref "),
    ],
)
def test_unreadable_lines_are_rejected_with_a_reason(text: bytes, reason: str) -> None:
    assert reject_reason(text).startswith(reason)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"confidence": 1.5}, "confidence 1.5 is not a number from 0 to 1"),
        ({"confidence": "high"}, "confidence 'high' is not a number from 0 to 1"),
        ({"confidence": None}, "confidence is missing"),
        ({"human-annotated": True}, "human-annotated True is not 'yes' or 'no'"),
        ({"creation-date": "yesterday"}, "creation-date 'yesterday' is not a UTC date-time"),
        ({"class-name": ""}, "metadata class-name is missing or not a string"),
        ({"type": "groundtruth/unknown-task"}, "unsupported type: groundtruth/unknown-task"),
        ({"type": None}, "metadata has no type"),
    ],
)
def test_bad_metadata_values_reject_the_record(change: dict[str, object], reason: str) -> None:
    attribute = classification("species", "dog")
    attribute["species-metadata"].update(change)
    assert reject_reason(line("a.jpg", attribute)).startswith(reason)


def test_metadata_that_is_not_an_object_is_rejected() -> None:
    assert reject_reason(line("a.jpg", {"species": 0, "species-metadata": "dog"})) == (
        "metadata is not an object (attribute species)"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda v, m: m["class-map"].clear(), "class id 0 is not in class-map"),
        (lambda v, m: m["objects"].pop(), "1 boxes but 0 confidences in metadata objects"),
        (lambda v, m: v["annotations"][0].pop("left"), "box 0 left None is not a number"),
        (lambda v, m: v.update(image_size=[]), "image_size is not an array of one"),
        (lambda v, m: v.pop("annotations"), "bounding-box has no annotations list"),
    ],
)
def test_bad_box_sets_are_rejected(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    attribute = boxes("bb", [("dog", 1, 2, 3, 4)])
    change(attribute["bb"], attribute["bb-metadata"])
    assert reject_reason(line("a.jpg", attribute)).startswith(reason)


def test_rejection_keeps_the_raw_line() -> None:
    text = '{"source-ref": "s3://b/a.jpg", "x": '
    item = parse(text)
    assert isinstance(item, Rejection)
    assert item.raw == text


def test_rekognition_validation_keys_are_not_attributes() -> None:
    text = json.dumps(
        {
            "source-ref": "s3://gt-bucket/images/a.jpg",
            **classification("species", "dog"),
            "errors": [{"code": "X"}],
            "cl-metadata": {"is_labeled": True},
        }
    )
    assert [label.name for label in image_of(text).labels] == ["dog"]


def test_crlf_is_tolerated_and_a_byte_order_mark_rejected_as_validate_does(
    tmp_path: Path,
) -> None:
    path = tmp_path / "windows.manifest"
    text = line("a.jpg", classification("species", "dog")) + "\r\n" + line("b.jpg") + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    items = list(GroundTruthReader().read(Source(str(path)), ReadContext()))
    assert [type(item).__name__ for item in items] == ["Rejection", "Parsed"]
    assert items[0].reason == "invalid JSON: a byte-order mark before the line"


GT_LABEL = classification("species", "cat")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        # as Ground Truth writes it: found without parsing
        (b'{"source-ref":"s3://b/a.jpg","x":1}', "s3://b/a.jpg"),
        # every other spelling is parsed, and gives what parse_line gives
        (b'{"source-ref": "s3://b/a.jpg"}', "s3://b/a.jpg"),
        (b'{"source-ref":"s3://b/a%20b.jpg"}', "s3://b/a b.jpg"),
        (b'{"source-ref":"https://b.s3.amazonaws.com/a.jpg"}', "s3://b/a.jpg"),
        (b'{"source-ref":"s3://b/a.jpg","source-ref":"s3://b/z.jpg"}', "s3://b/z.jpg"),
        (b'{"source-ref":"s3://b/a.jpg","source\\u002dref":"s3://b/z.jpg"}', "s3://b/z.jpg"),
        (b'{"source-ref":"s3://b/a\\u0041.jpg"}', "s3://b/aA.jpg"),
        (b'{"x":{"source-ref":"s3://b/z.jpg"},"source-ref":"s3://b/a.jpg"}', "s3://b/a.jpg"),
        (line("a.jpg", GT_LABEL).encode(), "s3://gt-bucket/images/a.jpg"),
        # no usable image: nothing to spool
        (b'{"source-ref":"s3://b/"}', None),
        (b'{"source-ref": "s3://b/a.jpg", "x-metadata": {}}', None),
        (b"", None),
    ],
)
def test_image_key_is_the_key_parse_line_gives(raw: bytes, key: str | None) -> None:
    item = parse_line(1, raw)
    assert (item.image.key if isinstance(item, Parsed) else None) == key
    assert image_key(raw) == (None if key is None else key.encode())


def test_a_broken_line_that_starts_like_ground_truth_still_gets_its_key() -> None:
    # it is spooled by this key and rejected when pass 2 parses it
    raw = b'{"source-ref":"s3://b/a.jpg","x":'
    assert isinstance(parse_line(1, raw), Rejection)
    assert image_key(raw) == b"s3://b/a.jpg"


def test_a_lone_box_attribute_is_what_a_verdict_verified_whatever_the_dates() -> None:
    later = boxes("bb", [("dog", 1, 2, 30, 40)], date="2030-01-01T00:00:00")
    item = verified(line("a.jpg", later, VERIFY_BAD))
    assert isinstance(item, Parsed)
    assert item.image.verdicts[0].target == ("bb", "labeling-job/boxes", "2030-01-01T00:00:00")


def test_boxes_drawn_after_a_verdict_on_a_classification_are_not_what_it_verified() -> None:
    species = classification("species", "dog")  # 2018-10-18, verified on 2018-11-20
    later = boxes("bb", [("dog", 1, 2, 30, 40)], date="2019-01-01T00:00:00")
    item = verified(line("a.jpg", species, VERIFY_BAD, later))
    assert isinstance(item, Parsed)
    target = ("species", "labeling-job/species", "2018-10-18T22:18:13.527256")
    assert item.image.verdicts[0].target == target
