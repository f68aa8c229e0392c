"""The page as a person sees it: headless Chromium draws it, with no console error.

Needs Debian's ``chromium`` (``.ci/run`` installs it). Outside CI the test is skipped when
Chromium is missing; in CI (``CI`` set) it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pngcheck import colours, decode
from splitdata import image_line, long_tailed, write

from gtmerge.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1200, 2000
TRAIN_BLUE, TEST_ORANGE = bytes.fromhex("2f6db3"), bytes.fromhex("e8912d")

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "chromium is not installed; CI must have it (.ci/run)"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of a merged-then-split detection and classification set."""
    folder = tmp_path_factory.mktemp("page")
    lines = [
        image_line(f"i{n}.jpg", classes, [(c, 100 + 40 * n % 800, 90) for c in classes[:2]])
        for n, classes in enumerate(long_tailed(400, 15, seed=6))
    ]
    manifest = write(folder / "in.manifest", lines)
    train, test, html = folder / "train", folder / "test", folder / "page.html"
    assert main(["split", manifest, "-o", str(train), "--test-output", str(test)]) == 0
    assert main(["stats", str(train), "--test", str(test), "--html", str(html)]) == 0
    return html


def test_the_charts_draw_without_console_errors(tmp_path, page):
    result = chromium(tmp_path, page, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None
    # the page's own script counts the charts in the rendered document
    assert 'data-charts="4"' in body.group(0)


def test_the_screenshot_is_drawn(tmp_path, page):
    shot = tmp_path / "page.png"
    result = chromium(tmp_path, page, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    assert result.returncode == 0, result.stderr[-2000:]
    width, height, rows = decode(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    seen = colours(rows)
    sampled = sum(seen.values())
    white = seen[b"\xff\xff\xff"]
    assert 0.05 < 1 - white / sampled < 0.6  # drawn, and not a solid block
    assert len(seen) > 50  # text and antialiased shapes, not a flat fill
    assert seen[TRAIN_BLUE] > 100 and seen[TEST_ORANGE] > 100  # both sides' bars
