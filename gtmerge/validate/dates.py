"""A fast yes for the common ``creation-date`` forms, with the same verdict as
:func:`gtmerge.rekognition.is_valid_creation_date`.

It runs once per label, and the reference (a regex, then ``fromisoformat``) costs as much as
parsing a whole classification label with orjson. Ground Truth writes
``YYYY-MM-DDTHH:MM:SS[.fraction][Z]``: once a few character tests have pinned that layout,
the C ``fromisoformat`` alone checks the digits, the ranges and the calendar, at half the cost.
Every other value, and every value ``fromisoformat`` rejects, goes to the reference, so the
verdict never differs (tests/test_validate_lines.py checks this with Hypothesis).
"""

from __future__ import annotations

from datetime import datetime

from gtmerge.rekognition import is_valid_creation_date

_MAX_FRACTION_DIGITS = 9


def creation_date_ok(value: object) -> bool:
    if (
        type(value) is str
        and len(value) >= 19
        and value[4] == "-"
        and value[7] == "-"
        and (value[10] == "T" or value[10] == " ")
        and value[13] == ":"
        and value[16] == ":"
    ):
        tail = value[19:]
        fraction = tail[1:].rstrip("Z")
        if (
            not tail
            or tail == "Z"
            or (tail[0] == "." and 0 < len(fraction) <= _MAX_FRACTION_DIGITS and fraction.isdigit())
        ):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return True
    return is_valid_creation_date(value)
