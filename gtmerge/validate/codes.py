"""Every code the validator reports, with its standard message.

Rekognition's own codes keep Rekognition's wording (../shared/reference/formats.md §4). The few
problems Rekognition handles silently, with no code (§4.3), get gtmerge codes whose messages say
so, so that nobody searches the AWS docs for them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeInfo:
    message: str
    #: False for gtmerge's own codes: Rekognition drops these lines, or takes them, silently.
    rekognition: bool = True


# Line-level errors checked first; any one of them stops the line (§4.4 †).
INVALID_JSON_LINE = "ERROR_INVALID_JSON_LINE"
LINE_TOO_LONG = "ERROR_LINE_TOO_LONG"
MISSING_SOURCE_REF = "ERROR_MISSING_SOURCE_REF"
INVALID_SOURCE_REF_FORMAT = "ERROR_INVALID_SOURCE_REF_FORMAT"
DUPLICATE_SOURCE_REF = "ERROR_DUPLICATE_SOURCE_REF"
NO_LABEL_ATTRIBUTES = "ERROR_NO_LABEL_ATTRIBUTES"
INVALID_LABEL_ATTRIBUTE_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
MISSING_BOUNDING_BOX_CONFIDENCE = "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"
MISSING_CLASS_MAP_ID = "ERROR_MISSING_CLASS_MAP_ID"
# Attribute-, annotation- and line-level errors checked once the line passed the above.
UNSUPPORTED_USE_CASE_TYPE = "ERROR_UNSUPPORTED_USE_CASE_TYPE"
NO_VALID_LABEL_ATTRIBUTES = "ERROR_NO_VALID_LABEL_ATTRIBUTES"
INVALID_LABEL_NAME_LENGTH = "ERROR_INVALID_LABEL_NAME_LENGTH"
TOO_MANY_BOUNDING_BOXES = "ERROR_TOO_MANY_BOUNDING_BOXES"
INVALID_BOUNDING_BOX = "ERROR_INVALID_BOUNDING_BOX"
BOUNDING_BOX_TOO_SMALL = "ERROR_BOUNDING_BOX_TOO_SMALL"
NO_VALID_ANNOTATIONS = "ERROR_NO_VALID_ANNOTATIONS"
TOO_MANY_LABELS_PER_IMAGE = "ERROR_TOO_MANY_LABELS_PER_IMAGE"
INVALID_IMAGE = "ERROR_INVALID_IMAGE"
INVALID_IMAGE_DIMENSION = "ERROR_INVALID_IMAGE_DIMENSION"
# Manifest-level errors.
EMPTY_MANIFEST = "ERROR_EMPTY_MANIFEST"
MANIFEST_SIZE_TOO_LARGE = "ERROR_MANIFEST_SIZE_TOO_LARGE"
MANIFEST_ROWS_EXCEEDS_MAXIMUM = "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"
IMAGES_IN_MULTIPLE_S3_BUCKETS = "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
MANIFEST_TOO_MANY_LABELS = "ERROR_MANIFEST_TOO_MANY_LABELS"
MANIFEST_TOO_FEW_LABELS = "ERROR_MANIFEST_TOO_FEW_LABELS"
TOO_MANY_INVALID_ROWS_IN_MANIFEST = "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
INSUFFICIENT_LABEL_OVERLAP = "ERROR_INSUFFICIENT_LABEL_OVERLAP"
# Warnings: the line is valid but ignored, or the problem does not fail an import.
UNANNOTATED_RECORD = "WARNING_UNANNOTATED_RECORD"
NO_ANNOTATIONS = "WARNING_NO_ANNOTATIONS"
NO_ATTRIBUTE_ANNOTATIONS = "WARNING_NO_ATTRIBUTE_ANNOTATIONS"
IMAGE_IN_TRAINING_AND_TEST = "WARNING_IMAGE_IN_TRAINING_AND_TEST"

_SILENT = "Rekognition has no code for this: it drops the line silently."

CODES: dict[str, CodeInfo] = {
    INVALID_JSON_LINE: CodeInfo("The JSON Line has an invalid format."),
    LINE_TOO_LONG: CodeInfo(
        f"The JSON Line is longer than 100,000 characters. {_SILENT}", rekognition=False
    ),
    MISSING_SOURCE_REF: CodeInfo("The source-ref key is missing."),
    INVALID_SOURCE_REF_FORMAT: CodeInfo("The format of the source-ref value is invalid."),
    DUPLICATE_SOURCE_REF: CodeInfo(
        f"The image is already in this manifest. {_SILENT}", rekognition=False
    ),
    NO_LABEL_ATTRIBUTES: CodeInfo("No label attributes found."),
    INVALID_LABEL_ATTRIBUTE_FORMAT: CodeInfo("The format of the label attribute is invalid."),
    INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT: CodeInfo(
        "The format of the label attribute metadata is invalid."
    ),
    MISSING_BOUNDING_BOX_CONFIDENCE: CodeInfo(
        "One or more bounding boxes has a missing confidence value."
    ),
    MISSING_CLASS_MAP_ID: CodeInfo("One or more class ids is missing from the class map."),
    UNSUPPORTED_USE_CASE_TYPE: CodeInfo(
        "The use case type of the label attribute metadata is unsupported. Check the type field."
    ),
    NO_VALID_LABEL_ATTRIBUTES: CodeInfo("No valid label attributes found."),
    INVALID_LABEL_NAME_LENGTH: CodeInfo("The label name is longer than 256 characters."),
    TOO_MANY_BOUNDING_BOXES: CodeInfo("There are more than 50 bounding boxes on the image."),
    INVALID_BOUNDING_BOX: CodeInfo("The bounding box has off frame values."),
    BOUNDING_BOX_TOO_SMALL: CodeInfo("The height and width of the bounding box is too small."),
    NO_VALID_ANNOTATIONS: CodeInfo("No valid annotations found."),
    TOO_MANY_LABELS_PER_IMAGE: CodeInfo(
        "The image has more than 50 labels (Rekognition's quota; it documents no code for it).",
        rekognition=False,
    ),
    INVALID_IMAGE: CodeInfo(
        "The image is invalid. Check the S3 path and/or other image properties."
    ),
    INVALID_IMAGE_DIMENSION: CodeInfo(
        "The image dimension(s) do not conform to allowed dimensions."
    ),
    EMPTY_MANIFEST: CodeInfo("The manifest file is empty."),
    MANIFEST_SIZE_TOO_LARGE: CodeInfo("The manifest file is larger than 1 GB."),
    MANIFEST_ROWS_EXCEEDS_MAXIMUM: CodeInfo("The manifest file has more lines than allowed."),
    IMAGES_IN_MULTIPLE_S3_BUCKETS: CodeInfo("The images are in more than one S3 bucket."),
    MANIFEST_TOO_MANY_LABELS: CodeInfo("The manifest has more than 250 labels."),
    MANIFEST_TOO_FEW_LABELS: CodeInfo("The manifest doesn't have enough labels."),
    TOO_MANY_INVALID_ROWS_IN_MANIFEST: CodeInfo(
        "The manifest file contains too many invalid rows."
    ),
    INSUFFICIENT_LABEL_OVERLAP: CodeInfo(
        "Less than 50% label overlap between the training and test manifests."
    ),
    UNANNOTATED_RECORD: CodeInfo("Record is unannotated."),
    NO_ANNOTATIONS: CodeInfo("No annotations were found."),
    NO_ATTRIBUTE_ANNOTATIONS: CodeInfo("No attribute annotations were found."),
    IMAGE_IN_TRAINING_AND_TEST: CodeInfo(
        "The image is in both the training and the test manifest (Rekognition accepts it, "
        "but the test results then overstate the model).",
        rekognition=False,
    ),
}


def is_warning(code: str) -> bool:
    return code.startswith("WARNING_")


def message(code: str, detail: str | None = None) -> str:
    """The code's standard message, followed by what exactly is wrong."""
    base = CODES[code].message
    return f"{base} {detail}" if detail else base
