"""A fast yes or no for the common ``creation-date`` forms, with the same verdict as
:func:`gtmerge.rekognition.is_valid_creation_date`.

It runs once per label, and the reference costs about as much as parsing a classification line
with orjson. Ground Truth writes ``YYYY-MM-DDTHH:MM:SS[.fraction][Z]`` in ASCII digits: a regex
with no groups that also bounds hours, minutes and seconds recognises that shape in a third of
the time, and then only the calendar day is left to check, which few distinct values share.
Every value outside that shape goes to the reference, so the verdict never differs
(tests/test_validate_lines.py checks this with Hypothesis).
"""

from __future__ import annotations

import re
from datetime import date

from gtmerge.rekognition import is_valid_creation_date

#: A subset of the reference's grammar: ASCII digits, hours 00-23, minutes and seconds 00-59,
#: no numeric offset.
_COMMON_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,9})?Z?"
).fullmatch
#: ``YYYY-MM-DD`` → whether it is a real day; bounded, since a manifest spans few days.
_DAYS: dict[str, bool] = {}
_DAYS_KEPT = 4096


def creation_date_ok(value: object) -> bool:
    if type(value) is str and _COMMON_SHAPE(value) is not None:
        day = value[:10]
        real = _DAYS.get(day)
        if real is None:
            real = _is_real_day(day)
            if len(_DAYS) < _DAYS_KEPT:
                _DAYS[day] = real
        return real
    return is_valid_creation_date(value)


def _is_real_day(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True
