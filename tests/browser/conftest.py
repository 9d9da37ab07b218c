"""Browser tests: Debian's chromium driven by Playwright, against a live server on loopback.

The `browser` and `page` fixtures live in the root conftest.py: one chromium per session,
whichever app's tests take screenshots."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def htmx_settled(page: object) -> None:
    """Wait until htmx has swapped, settled and wired up what it brought. New elements get
    their hx- handlers only as they settle (a timer): an element used before then does
    nothing, which a loaded machine turns into a timeout."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => !document.querySelector("
        "'.htmx-added, .htmx-settling, .htmx-request, .htmx-swapping')"
    )
