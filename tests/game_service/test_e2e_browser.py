"""End to end: the game page in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) against the game started the way a newcomer starts it (`python -m game_service`:
SQLite and a local media directory). Two players meet, befriend, gift, and upload an avatar."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.game_service.conftest import REPO, free_port

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f7a0b50000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def game_url(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/system-packages.txt)")
    cwd = tmp_path_factory.mktemp("play")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAME_", "AWS_"))}
    env.update(GAME_PORT=str(port), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "game_service"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(150):
        try:
            if httpx.get(url + "api/health/ready").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the game did not start")
    yield url
    proc.terminate()
    proc.wait(20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def text(page, sel: str) -> str:
    return page.locator(sel).inner_text().strip()


def test_two_players_play_befriend_gift_and_upload_an_avatar(game_url, browser, tmp_path):
    from playwright.sync_api import expect

    ann = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    errors: list[str] = []
    for p in (ann, bob):
        p.on("pageerror", lambda e: errors.append(str(e)))

    # sign in as guests
    for page, name in ((ann, "Ann"), (bob, "Bob")):
        page.goto(game_url)
        page.fill("#guest-name", name)
        page.click("#guest-signin")
        expect(page.locator("#player-name")).to_have_text(name)
        expect(page.locator("#coins")).to_have_text("50")
        expect(page.locator("#energy")).to_have_text("20")

    # act: energy down, coins and XP up
    for _ in range(3):
        ann.click("#act")
        expect(ann.locator("#message")).to_contain_text("+5 coins")
    expect(ann.locator("#energy")).to_have_text("17")
    expect(ann.locator("#coins")).to_have_text("65")
    expect(ann.locator("#xp")).to_have_text("30")

    # daily reward once
    ann.click("#daily")
    expect(ann.locator("#message")).to_have_text("Daily reward: +100 coins")
    expect(ann.locator("#coins")).to_have_text("165")
    expect(ann.locator("#daily")).to_be_disabled()

    # Ann adds Bob by player id; Bob accepts
    bob_id = text(bob, "#player-id")
    ann.fill("#friend-id", bob_id)
    ann.click("#add-friend")
    expect(ann.locator("#message")).to_have_text("Friend request sent")
    bob.reload()
    expect(bob.locator("#requests")).to_contain_text("Ann")
    bob.locator("#requests button", has_text="Accept").click()
    expect(bob.locator("#friends")).to_contain_text("Ann")

    # Bob sends Ann a gift; Ann claims it once
    bob.locator("#friends button", has_text="Send gift").click()
    expect(bob.locator("#message")).to_have_text("Gift sent to Ann")
    expect(bob.locator("#friends button", has_text="Gift sent")).to_be_disabled()
    ann.reload()
    expect(ann.locator("#gifts-waiting")).to_have_text("1")
    expect(ann.locator("#inbox")).to_contain_text("10 coins from Bob")
    ann.locator("#inbox button", has_text="Claim").click()
    expect(ann.locator("#coins")).to_have_text("175")
    expect(ann.locator("#inbox button", has_text="Claimed")).to_be_disabled()

    # friends leaderboard: Ann (30 XP) above Bob (0 XP); global lists both
    expect(ann.locator("#leaderboard li")).to_have_count(2)
    expect(ann.locator("#leaderboard li").first).to_contain_text("Ann")
    expect(ann.locator("#leaderboard li").nth(1)).to_contain_text("Bob")
    ann.click("#lb-global")
    expect(ann.locator("#lb-global")).to_have_class("tab active")
    expect(ann.locator("#leaderboard")).to_contain_text("Bob")

    # avatar upload: through the upload form, verified, then shown from /media/...
    png = tmp_path / "me.png"
    png.write_bytes(PNG_1x1)
    ann.set_input_files("#avatar-file", str(png))
    expect(ann.locator("#message")).to_have_text("New avatar saved")
    src = ann.locator("#avatar").get_attribute("src")
    assert src.startswith("/media/avatars/")
    ann.wait_for_function("document.getElementById('avatar').complete && document.getElementById('avatar').naturalWidth === 1")

    # a refused action shows a readable message
    bad = tmp_path / "fake.png"
    bad.write_bytes(b"this is not an image")
    ann.set_input_files("#avatar-file", str(bad))
    expect(ann.locator("#message")).to_have_text("avatar must be a PNG, JPEG, GIF or WebP image")

    # the session survives a reload (token in local storage) and the state is the server's
    ann.reload()
    expect(ann.locator("#coins")).to_have_text("175")
    ann.click("#sign-out")
    expect(ann.locator("#guest-signin")).to_be_visible()
    assert errors == []
