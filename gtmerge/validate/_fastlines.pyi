from typing import Any

def clean_labels(
    record: dict[str, Any], pairs: tuple[tuple[str, str], ...]
) -> tuple[list[str], list[str]] | None: ...
