from typing import Any

def count_clean_labels(
    record: dict[str, Any],
    pairs: tuple[tuple[str, str], ...],
    class_images: dict[str, int],
    object_images: dict[str, int],
) -> int: ...
def feed_line(
    raw: bytes,
    prefix: str,
    longest: int,
    pairing: dict[tuple[str, ...], tuple[tuple[str, str], ...]],
    class_images: dict[str, int],
    object_images: dict[str, int],
    first_lines: dict[str, int] | None,
    line: int,
) -> Any: ...
