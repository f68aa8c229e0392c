"""Rekognition Custom Labels rules shared by the readers, the writer and the validator.

Numbers and wording follow ../shared/reference/formats.md §1 to §4.
"""

from __future__ import annotations

from datetime import datetime

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
#: Ground Truth's multi-label classification: Rekognition reads it as one label per class.
MULTILABEL = "groundtruth/image-classification-multilabel"

MAX_LINE_CHARS = 100_000
MAX_MANIFEST_BYTES = 1 << 30  # 1 GB
DEFAULT_MAX_LINES = 250_000
MAX_LABELS_PER_MANIFEST = 250
MAX_LABELS_PER_IMAGE = 50
MAX_BOXES_PER_IMAGE = 50
#: a quota with no error code (the quotas page, testing section): gtmerge warns, never refuses
MAX_TEST_IMAGES_PER_LABEL = 1000
MAX_LABEL_NAME_CHARS = 256
#: the longest S3 object key, UTF-8 encoded (§3.4; the validator words it in characters)
MAX_KEY_BYTES = 1024
MIN_BOX_PIXELS = 1.0
SCALED_MAX_SIDE = 1280
INVALID_LINE_RATIO = 0.20

# RCL gives no grammar for creation-date; these are every form seen in AWS examples (§3.6):
# 'T' or a space, optional fraction of 1 to 9 digits, optional 'Z' or numeric offset. Each form
# is spelled with every ASCII digit written as 0, as _DIGITS_AS_ZERO rewrites a value.
_DATE_SHAPES = frozenset(
    f"0000-00-00{separator}00:00:00{fraction}{zone}".encode()
    for separator in "T "
    for fraction in ["", *("." + "0" * digits for digits in range(1, 10))]
    for zone in ("", "Z", "+00:00", "+0000", "-00:00", "-0000")
)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0000000000")


def is_valid_creation_date(value: object) -> bool:
    """Whether ``value`` is a date-time string in one of the forms Rekognition accepts.

    The shape test is one C pass over the bytes and a set lookup (a third of the time of the
    equivalent regex; a non-ASCII string has none of the forms). ``fromisoformat`` then checks
    the calendar (no 30 February) in C; alone it would also take a date without a time. About
    0.25 µs: this runs for every label of every line.
    """
    if (
        type(value) is not str
        or not value.isascii()
        or value.encode().translate(_DIGITS_AS_ZERO) not in _DATE_SHAPES
    ):
        return False
    try:
        datetime.fromisoformat(value[:19])
    except ValueError:
        return False
    return True


def date_order(value: str) -> str:
    """A key that sorts creation-dates in time order, whatever their form (§3.6): the date, a
    'T', the time and the fraction padded to nanoseconds. Every accepted form is UTC (a zone,
    if any, is zero), so this is the instant. A date that is not one of the forms sorts first.
    """
    if not is_valid_creation_date(value):
        return ""
    fraction = value[20:].rstrip("Z").split("+")[0].split("-")[0] if value[19:20] == "." else ""
    return f"{value[:10]}T{value[11:19]}.{fraction:0<9}"


def label_name_problem(name: str) -> str | None:
    """Why ``name`` can never be a Rekognition label name, if it cannot: over 256 characters.

    Every reader refuses such a name where it reads it, so nothing of that size is held or
    written whatever the input's size (a 15 MB class name fits within the line limit).
    """
    if len(name) <= MAX_LABEL_NAME_CHARS:
        return None
    return (
        f"label name of {len(name):,} characters, over the {MAX_LABEL_NAME_CHARS} Rekognition takes"
    )


def is_confidence(value: object) -> bool:
    """A number from 0 to 1 (booleans are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


# §3.2: the quotas page (classification 2, detection 1). The validation table and the
# ERROR_MANIFEST_TOO_FEW_USABLE_LABELS text disagree (formats.md §8.1).
MIN_CLASSIFICATION_LABELS = 2
MIN_DETECTION_LABELS = 1

# §3.4, images as stored in S3. "15 MB" is read as MiB, the larger of the two readings, so a
# flagged image is certainly too large.
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 4096
MAX_ASPECT_RATIO = 20.0
