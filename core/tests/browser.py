"""Real headless Chromium for tests: Debian's `chromium` driven by Playwright.

Playwright's sync API runs an event loop in the test's thread, while the ORM calls the tests
make are synchronous; importing this module allows them.
"""

import os

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_launch(playwright):
    """A headless browser from the machine's Chromium (Playwright's own download is not used)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
