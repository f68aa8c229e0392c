"""The compact terminal table of ``gtmerge stats``."""

from __future__ import annotations

from collections import Counter

from gtmerge.stats.collect import SIZE_BINS, DatasetStats, SideStats, size_bin_name
from gtmerge.validate import Finding


def text_table(stats: DatasetStats) -> str:
    """Totals per side, a row per class, the distributions, then the rules each side breaks."""
    sides = stats.sides
    out = [
        f"{side.manifest} ({side.dataset}): {side.images:,} images, {side.labels:,} labels, "
        f"{side.boxes:,} boxes, {side.classes:,} classes, use case {side.use_case}"
        for side in sides
    ]
    names = sorted(
        set().union(*(side.class_images for side in sides)),
        key=lambda name: (-sum(side.class_images[name] for side in sides), name),
    )
    width = max([5, *(len(name) for name in names)])
    header = "".join(f"  {side.dataset[:5] + ' img':>10}" for side in sides)
    header += "".join(f"  {side.dataset[:5] + ' box':>10}" for side in sides)
    out.append("")
    out.append(f"{'class':<{width}}{header}")
    for name in names:
        row = "".join(f"  {side.class_images[name]:>10,}" for side in sides)
        row += "".join(f"  {side.class_boxes[name]:>10,}" for side in sides)
        out.append(f"{name:<{width}}{row}")
    out.append("")
    for side in sides:
        out.append(f"classes per image ({side.dataset}): {_histogram(side.labels_per_image)}")
    for side in sides:
        if side.boxes:
            sizes = Counter({size_bin_name(k): side.box_sizes[k] for k in range(SIZE_BINS)})
            shown = ", ".join(f"{name} {n}" for name, n in sizes.items() if n)
            out.append(f"box side / image side ({side.dataset}): {shown}")
    out.append("")
    for side in sides:
        out.append(f"Rekognition rules broken ({side.dataset}): {_broken(side)}")
    if len(sides) == 2:
        pair = "; ".join(_finding(f) for f in stats.pair_findings) or "none"
        out.append(f"Rekognition rules broken (training and test together): {pair}")
    return "\n".join(out) + "\n"


def _histogram(counts: Counter[int]) -> str:
    return ", ".join(f"{k}: {counts[k]:,}" for k in sorted(counts)) or "no images"


def _broken(side: SideStats) -> str:
    firsts: dict[str, Finding] = {}
    for finding in side.findings:
        firsts.setdefault(finding.code, finding)
    if not firsts:
        return "none"
    return "; ".join(
        f"{code} ({side.findings_by_code.get(code, 1):,}): {finding.message}"
        for code, finding in firsts.items()
    )


def _finding(finding: Finding) -> str:
    return f"{finding.code}: {finding.message}"
