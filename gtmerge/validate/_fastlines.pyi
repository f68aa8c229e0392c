from typing import Any

def count_clean_labels(
    record: dict[str, Any],
    pairs: tuple[tuple[str, str], ...],
    class_images: dict[str, int],
    object_images: dict[str, int],
) -> int: ...
