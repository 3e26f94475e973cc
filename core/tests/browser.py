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


class PageProblems:
    """What a page complains about while a test drives it: CSP violations, script errors and
    responses of 400 or more (the favicon aside). A test asserts `problems` is empty."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on(
            "response",
            lambda response: (
                self.problems.append(f"{response.status} {response.url}")
                if response.status >= 400 and not response.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on(
            "console",
            lambda message: (
                self.problems.append(message.text)
                if "Content Security Policy" in message.text
                or (message.type == "error" and "Failed to load resource" not in message.text)
                else None
            ),
        )
        page.on("pageerror", lambda error: self.problems.append(str(error)))


def admin_page(browser, live_server, *, width: int, next_path: str, username: str, password: str):
    """A page of a new browser context `width` pixels wide, signed in to the admin as
    `username`, on `next_path`; with the `PageProblems` that watch it."""
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    watch = PageProblems(page)
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    return page, watch
