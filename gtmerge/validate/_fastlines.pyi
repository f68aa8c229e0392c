from typing import Any

def count_clean_labels(
    record: dict[str, Any],
    pairs: tuple[tuple[str, str], ...],
    class_images: dict[str, int],
    object_images: dict[str, int],
) -> int: ...
def feed_lines(
    lines: list[bytes],
    start: int,
    prefix: str,
    longest: int,
    pairing: dict[tuple[str, ...], tuple[tuple[str, str], ...]],
    class_images: dict[str, int],
    object_images: dict[str, int],
    first_lines: dict[str, int] | None,
    boxed_lines: set[int] | None,
    line: int,
    max_lines: int,
    max_chars: int,
) -> tuple[int, int, int, int, Any]: ...
