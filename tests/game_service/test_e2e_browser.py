"""End to end: the game page in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) against the game started the way a newcomer starts it (`python -m game_service`:
SQLite and a local media directory), on a desktop (1280x800) and a phone (390x844) viewport.

Facebook's SDK is blocked in every browser context (as ad blockers do); the server has a
Facebook app configured, so the page tries to load it and must say it is unavailable.
Every screen is checked by axe-core (from npm, injected into the page: no serious or critical
violation) and photographed into build/screenshots/ (git-ignored) for reviewers; the axe
figures land in build/screenshots/axe-results.json.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from local_topology.processes import free_port
from tests.game_service.conftest import REPO

pytestmark = pytest.mark.slow(seconds=55)  # the whole file, idle 2-core machine

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO / "build" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FB_SDK = re.compile(r"^https://connect\.facebook\.net/")
REFRESH_S = 1  # the page's refresh period, set short here (GAME_PAGE_REFRESH_SECONDS; 10 by default)
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f7a0b50000000049454e44ae426082"
)
AXE_RESULTS: dict[str, dict] = {}
SERVER_DIR: list[Path] = []  # the local game's working directory (its ./var/)


@pytest.fixture(scope="module")
def game_url(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/system-packages.txt)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make setup does)")
    cwd = tmp_path_factory.mktemp("play")
    SERVER_DIR.append(cwd)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAME_", "AWS_"))}
    # a Facebook app, so that the page loads the SDK (which every test context blocks)
    env.update(GAME_PORT=str(port), PYTHONPATH=str(REPO), GAME_FACEBOOK_APP_ID="424242",
               GAME_FACEBOOK_APP_SECRET="not-used-here", GAME_PAGE_REFRESH_SECONDS=str(REFRESH_S))
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

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
    (SHOTS / "axe-results.json").write_text(json.dumps(AXE_RESULTS, indent=2, sort_keys=True))


class Tab:
    """One player's browser (its own context: storage, cookies), Facebook's SDK blocked."""

    def __init__(self, browser, viewport: str, problems: list):
        self.viewport = viewport
        self.context = browser.new_context(viewport=VIEWPORTS[viewport])
        self.sdk_requests = []

        def block(route):
            self.sdk_requests.append(route.request.url)
            route.abort()

        self.context.route(FB_SDK, block)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        # a file the page asks for and does not get (the API's 404s are answers the page words)
        self.page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                     if r.status == 404 and "/api/" not in r.url else None)

    def check(self, screen: str) -> None:
        """axe-core on the page as it is now (no serious or critical violation), and a screenshot."""
        page = self.page
        page.wait_for_timeout(150)  # let transitions settle before measuring colours
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            """async () => {
                const r = await axe.run(document, { resultTypes: ["violations"] });
                return { passes: r.passes.length, incomplete: r.incomplete.length,
                         violations: r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
                           where: v.nodes.slice(0, 3).map(n => n.target.join(" ")) })) };
            }"""
        )
        name = f"{screen}-{self.viewport}"
        AXE_RESULTS[name] = result
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{name}: {bad}"


def sign_in(tab: Tab, url: str, name: str) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(url)
    page.fill("#guest-name", name)
    page.click("#guest-signin")
    expect(page.locator("#player-name")).to_have_text(name)
    expect(page.locator("#player-name")).to_be_focused()  # focus moves into the game, not to <body>


def act(page, times: int = 1) -> None:
    from playwright.sync_api import expect

    for _ in range(times):
        page.click("#act")
        expect(page.locator("#act")).not_to_have_attribute("aria-busy", "true")


def layout_problems(page) -> list:
    """Visible controls under 44 px tall, and horizontal scrolling."""
    return page.evaluate(
        """() => {
            const out = [];
            for (const el of document.querySelectorAll("button, input:not(.visually-hidden), .file-button")) {
                const r = el.getBoundingClientRect();
                if (r.width && r.height && r.height < 44) out.push(`${el.id || el.textContent.trim()}: ${r.height}px tall`);
            }
            if (document.documentElement.scrollWidth > window.innerWidth) out.push("scrolls sideways");
            return out;
        }"""
    )


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_players_play_meet_live_and_keep_their_account(game_url, browser, viewport):
    from playwright.sync_api import expect

    problems: list[str] = []
    tag = f"{viewport[0]}{int(time.time() * 1000) % 100000}"  # names unique per run of the module
    ann, bob = Tab(browser, viewport, problems), Tab(browser, viewport, problems)
    a, b = ann.page, bob.page

    # the sign-in screen, with Facebook's script blocked: a plain sentence, no Facebook button
    a.goto(game_url)
    expect(a.locator("#fb-unavailable")).to_be_visible()
    expect(a.locator("#fb-unavailable")).to_contain_text("Facebook sign-in is unavailable")
    expect(a.locator("#fb-signin")).to_be_hidden()
    assert ann.sdk_requests, "the page did try to load Facebook's SDK"
    ann.check("signin")

    sign_in(ann, game_url, f"Ann {tag}")
    expect(a.locator("#coins")).to_have_text("50")
    expect(a.locator("#energy")).to_have_text("20")
    expect(a.locator("#refill")).to_have_text("Energy full")
    expect(a.get_by_role("progressbar", name="Experience towards the next level")).to_be_visible()
    expect(a.get_by_role("tab", name="Friends", selected=True)).to_be_visible()

    # a click is busy at once (disabled, aria-busy) and a double click spends once; each
    # click that reached the server carried its own Idempotency-Key
    keys = []
    a.on("request", lambda r: keys.append(r.headers.get("idempotency-key"))
         if r.method == "POST" and r.url.endswith("/api/actions") else None)
    state = a.evaluate("() => { const b = document.getElementById('act'); b.click(); b.click();"
                       " return [b.disabled, b.getAttribute('aria-busy')]; }")
    assert state == [True, "true"]
    expect(a.locator("#act-note")).to_have_text("+5 coins, +10 XP.")  # beside the button
    expect(a.locator("#energy")).to_have_text("19")
    expect(a.locator("#act")).to_be_enabled()
    # the energy countdown ticks on the page
    expect(a.locator("#refill")).to_contain_text("+1 in 2:5")
    expect(a.locator("#refill")).to_contain_text("full in 2:5")
    first = a.locator("#refill").inner_text()
    a.wait_for_function("t => document.getElementById('refill').textContent !== t", arg=first, timeout=3000)
    act(a, 9)
    expect(a.locator("#act-note")).to_contain_text("Level up! You reached level 2.")
    expect(a.locator("#level")).to_have_text("2")
    assert len(keys) == 10 and len(set(keys)) == 10 and None not in keys

    # energy packs: one fits at 10 energy; the rule is said where the button is
    expect(a.locator("#buy-energy")).to_be_enabled()
    a.click("#buy-energy")
    expect(a.locator("#buy-note")).to_have_text("+10 energy for 30 coins.")
    expect(a.locator("#energy")).to_have_text("20")
    expect(a.locator("#buy-energy")).to_be_disabled()
    expect(a.locator("#buy-note")).to_contain_text("Packs never fill the bar past 20", timeout=8000)

    # the daily reward: says the streak and when the next one comes
    a.click("#daily")
    expect(a.locator("#daily-note")).to_contain_text("+100 coins! Streak: 1 day. Next reward in")
    expect(a.locator("#daily")).to_be_disabled()
    expect(a.locator("#coins")).to_have_text("170")

    # coins build the castle, which grows
    expect(a.locator("#castle-upgrade")).to_have_text("Build level 1 (50 coins)")
    a.click("#castle-upgrade")
    expect(a.locator("#castle-note")).to_contain_text("Your castle reached level 1!")
    expect(a.locator("#castle-view .tower")).to_have_count(1)
    expect(a.locator("#coins")).to_have_text("120")
    a.click("#castle-upgrade")
    expect(a.locator("#castle-view .tower")).to_have_count(2)
    expect(a.get_by_role("img", name="A castle with 2 towers")).to_be_visible()
    ann.check("game")

    # at 0 energy the action is disabled and says when the next point comes
    act(a, 20)
    expect(a.locator("#energy")).to_have_text("0")
    expect(a.locator("#act")).to_be_disabled()
    out = re.compile(r"^Out of energy: the next point comes in (\d+ s|[1-3] min)\.$")
    expect(a.locator("#act-note")).to_have_text(out)
    said = a.locator("#act-note").inner_text()  # a polite live region: said once, not every second
    a.wait_for_function("t => document.getElementById('refill').textContent !== t",
                        arg=a.locator("#refill").inner_text(), timeout=3000)
    assert a.locator("#act-note").inner_text() == said
    ann.check("out-of-energy")

    # Bob signs in; Ann finds him by name; the request reaches Bob's open page without a reload
    sign_in(bob, game_url, f"Bob {tag}")
    a.fill("#search-name", f"bob {tag}")
    a.click("#search")
    a.locator("#search-results button", has_text="Add friend").click()
    expect(a.locator("#friends-note")).to_have_text(f"Friend request sent to Bob {tag}.")
    expect(b.locator("#requests")).to_contain_text(f"Ann {tag}", timeout=(REFRESH_S + 5) * 1000)
    expect(b).to_have_title("(1) Coin Quest")
    b.locator("#requests button", has_text="Accept").click()
    expect(b.locator("#friends")).to_contain_text(f"Ann {tag}")
    expect(b).to_have_title("Coin Quest")

    # Bob's gift: badge, inbox and title change together when Ann comes back to her tab
    b.locator("#friends button", has_text="Send gift").click()
    expect(b.locator("#friends-note")).to_have_text(f"Gift sent to Ann {tag}!")
    expect(b.locator("#friends button", has_text="Gift sent")).to_be_disabled()
    a.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(a.locator("#gifts-waiting")).to_have_text("1")
    expect(a.locator("#inbox")).to_contain_text(f"10 coins from Bob {tag}")
    expect(a).to_have_title("(1) Coin Quest")
    a.locator("#inbox button", has_text="Claim").click()
    expect(a.locator("#gifts-note")).to_have_text(f"+10 coins from Bob {tag}!")
    expect(a.locator("#inbox button", has_text="Claimed")).to_be_disabled()
    expect(a).to_have_title("Coin Quest")

    # an invite link: Cat opens it, is greeted with the inviter's name, signs in: friends
    link = a.locator("#invite-link").input_value()
    assert re.fullmatch(re.escape(game_url) + r"\?invite=[A-Za-z0-9_-]{8,32}", link), link
    cat = Tab(browser, viewport, problems)
    cat.page.goto(link)
    expect(cat.page.locator("#invite-note")).to_have_text(f"Ann {tag} invited you to play. Sign in and you become friends.")
    cat.check("invite")
    cat.page.fill("#guest-name", f"Cat {tag}")
    cat.page.click("#guest-signin")
    expect(cat.page.locator("#friends")).to_contain_text(f"Ann {tag}")
    expect(cat.page.locator("#friends-note")).to_have_text(f"You and Ann {tag} are now friends!")
    expect(a.locator("#friends")).to_contain_text(f"Cat {tag}", timeout=(REFRESH_S + 5) * 1000)

    # on a phone, "Send gift" and "Remove" stay side by side, each on one line
    row = a.locator("#friends li", has_text=f"Bob {tag}")
    gift_box = row.locator("button", has_text="Gift").bounding_box()
    remove_box = row.locator("button", has_text="Remove").bounding_box()
    assert gift_box["y"] == remove_box["y"] and remove_box["height"] < 60, (gift_box, remove_box)
    assert layout_problems(a) == []

    # removing a friend asks first
    a.locator("#friends li", has_text=f"Cat {tag}").locator("button", has_text="Remove").click()
    expect(a.locator("#confirm-dialog")).to_be_visible()
    expect(a.locator("#confirm-text")).to_have_text(f"Remove Cat {tag} from your friends? You can add them again later.")
    ann.check("confirm-remove")
    a.click("#confirm-no")
    expect(a.locator("#friends")).to_contain_text(f"Cat {tag}")
    a.locator("#friends li", has_text=f"Cat {tag}").locator("button", has_text="Remove").click()
    a.click("#confirm-yes")
    expect(a.locator("#friends")).not_to_contain_text(f"Cat {tag}")
    expect(a.locator("#friends-note")).to_have_text(f"Cat {tag} is no longer your friend.")

    # leaderboard tabs say which one is selected
    a.get_by_role("tab", name="Global").click()
    expect(a.get_by_role("tab", name="Global", selected=True)).to_be_visible()
    expect(a.get_by_role("tab", name="Friends", selected=False)).to_be_visible()

    # rename, and errors in plain sentences (no regex, no byte counts, no "Failed to fetch")
    a.click("#rename")
    a.fill("#rename-name", "<Ann>")
    a.click("#rename-save")
    expect(a.locator("#account-note")).to_have_text("Names cannot contain < or >.")
    a.fill("#rename-name", f"Ann B {tag}")
    a.click("#rename-save")
    expect(a.locator("#player-name")).to_have_text(f"Ann B {tag}")
    bad = REPO / "build" / f"not-an-image-{viewport}.png"
    bad.write_bytes(b"this is not an image")
    a.set_input_files("#avatar-file", str(bad))
    expect(a.locator("#avatar-note")).to_have_text(
        "That file is not a picture we can use. Choose a PNG, JPEG, GIF or WebP image under 2 MB.")
    good = REPO / "build" / f"avatar-{viewport}.png"
    good.write_bytes(PNG_1x1)
    a.set_input_files("#avatar-file", str(good))
    expect(a.locator("#avatar-note")).to_have_text("New avatar saved.")
    assert a.locator("#avatar").get_attribute("src").startswith("/media/avatars/")
    a.route("**/api/shop/energy", lambda route: route.abort())  # the network drops
    a.click("#buy-energy")
    expect(a.locator("#buy-note")).to_have_text("Cannot reach the game right now. Check your connection and try again.")
    a.unroute("**/api/shop/energy")

    # sign-out warns a guest and offers a recovery code, which restores the account elsewhere
    coins = a.locator("#coins").inner_text()
    a.click("#sign-out")
    expect(a.locator("#signout-dialog")).to_be_visible()
    expect(a.locator("#signout-text")).to_contain_text("If you sign out without saving it")
    expect(a.locator("#signout-text")).to_contain_text("on every device")
    ann.check("signout-warning")
    a.click("#signout-save")
    code = a.locator("#signout-code")
    expect(code).to_have_value(re.compile(r"^[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$"))
    recovery = code.input_value()
    a.click("#signout-confirm")
    expect(a.locator("#guest-signin")).to_be_visible()
    expect(a.locator("#guest-name")).to_be_focused()
    assert a.evaluate("localStorage.getItem('token')") is None

    phone = Tab(browser, viewport, problems)  # another device
    phone.page.goto(game_url)
    phone.page.fill("#recover-code", "nope-nope")
    phone.page.click("#recover-submit")
    expect(phone.page.locator("#signin-note")).to_have_text(
        "That recovery code does not match any account. Check it and try again.")
    phone.page.fill("#recover-code", recovery.lower())
    phone.page.click("#recover-submit")
    expect(phone.page.locator("#player-name")).to_have_text(f"Ann B {tag}")
    expect(phone.page.locator("#coins")).to_have_text(coins)
    expect(phone.page.locator("#castle-view .tower")).to_have_count(2)
    expect(phone.page.locator("#friends")).to_contain_text(f"Bob {tag}")

    assert layout_problems(b) == []
    assert problems == [], problems
    for t in (ann, bob, cat, phone):
        t.context.close()


def test_the_favicon_is_served(game_url):
    r = httpx.get(game_url + "favicon.ico")
    assert r.status_code == 200 and r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_the_page_keeps_the_session_the_server_renews(game_url, browser):
    """A token signed two days ago (by the service's own Sessions, with the game clock moved
    back, and the secret local play keeps in ./var/) is still valid; the server answers with a
    fresh one and the page stores it, so the player stays signed in."""
    from playwright.sync_api import expect

    from game_service.core import clock
    from game_service.core.security import Sessions

    problems: list[str] = []
    tab = Tab(browser, "desktop", problems)
    sign_in(tab, game_url, "Returning")
    pid = int(tab.page.locator("#player-id").inner_text())
    secret = (SERVER_DIR[0] / "var" / "session_secret").read_text().strip()
    clock.advance(-2 * 24 * 3600)
    try:
        old = Sessions(secret, 7 * 24 * 3600).issue(pid, 0)  # a new guest: generation 0
    finally:
        clock.reset()
    tab.page.evaluate("t => localStorage.setItem('token', t)", old)
    tab.page.reload()
    expect(tab.page.locator("#player-name")).to_have_text("Returning")
    tab.page.wait_for_function("t => localStorage.getItem('token') !== t", arg=old)
    renewed = tab.page.evaluate("localStorage.getItem('token')")
    r = httpx.get(game_url + "api/me", headers={"Authorization": f"Bearer {renewed}"})
    assert r.status_code == 200 and r.json()["id"] == pid and "x-session-token" not in r.headers
    assert problems == []
    tab.context.close()


def test_a_write_whose_answer_a_gateway_lost_is_sent_again_and_applied_once(game_url, browser):
    """The server commits an action, then the gateway in front answers 502 (an upstream reset,
    a load balancer's timeout): the page sends the same write once more with the same
    Idempotency-Key, the server replays its answer, and the player is paid once."""
    from playwright.sync_api import expect

    problems: list[str] = []
    tab = Tab(browser, "desktop", problems)
    sign_in(tab, game_url, "Gateway")
    page = tab.page
    expect(page.locator("#coins")).to_have_text("50")
    keys: list[str] = []

    def lost_answer(route):
        keys.append(route.request.headers["idempotency-key"])
        committed = route.fetch()  # the request reaches the server, which commits it
        if len(keys) == 1:
            assert committed.status == 200, committed.text()
            route.fulfill(status=502, content_type="text/html", body="<html>502 Bad Gateway</html>")
        else:
            route.fulfill(response=committed)

    page.route("**/api/actions", lambda route: lost_answer(route) if route.request.method == "POST" else route.fallback())
    page.click("#act")
    expect(page.locator("#act-note")).to_have_text("+5 coins, +10 XP.")
    expect(page.locator("#coins")).to_have_text("55")  # once, not 60
    assert len(keys) == 2 and keys[0] == keys[1], keys
    page.unroute("**/api/actions")
    token = page.evaluate("localStorage.getItem('token')")
    me = httpx.get(game_url + "api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["coins"] == 55, me
    assert problems == []
    tab.context.close()


def test_the_page_waits_for_the_avatar_a_worker_makes(game_url, browser):
    """With a job queue, the confirm answers 202 with a job and a worker makes the avatar
    (test_avatar_jobs.py runs that with the API, moto's SQS and a worker). The game here has no
    queue, so the browser's routes stand in for the server's answers, shaped as the API's: the
    page says it is processing, reads the job until it is done and shows the new avatar; a
    refused picture's reason is shown as the worker wrote it."""
    from playwright.sync_api import expect

    problems: list[str] = []
    tab = Tab(browser, "desktop", problems)
    sign_in(tab, game_url, "Patient")
    page = tab.page
    avatar = "/media/avatars/job-7.webp"
    reads = {7: ["processing", "done"], 8: ["refused"]}
    polls: list[int] = []

    def job(job_id: int, state: str) -> dict:
        return {"id": job_id, "kind": "avatar", "state": state, "href": f"/api/jobs/{job_id}",
                "avatar_url": avatar if state == "done" else None,
                "reason": "The picture is 5000 x 20 pixels; the limit is 4096 on a side." if state == "refused" else None}

    def confirm(route):
        job_id = 7 if 7 in reads else 8
        route.fulfill(status=202, json=job(job_id, "processing"), headers={"Location": f"/api/jobs/{job_id}"})

    def read(route):
        job_id = int(route.request.url.rsplit("/", 1)[1])
        polls.append(job_id)
        state = reads[job_id].pop(0)
        if not reads[job_id]:
            del reads[job_id]
        route.fulfill(json=job(job_id, state))

    def me(route):  # the state shows the avatar once the job is done
        answer = route.fetch()
        body = answer.json()
        if 7 not in reads:
            body["avatar_url"] = avatar
        route.fulfill(response=answer, json=body)

    page.route("**/api/me/avatar", lambda route: confirm(route) if route.request.method == "POST" else route.fallback())
    page.route("**/api/jobs/*", read)
    page.route("**/api/me", me)
    page.route("**" + avatar, lambda route: route.fulfill(body=PNG_1x1, content_type="image/png"))
    good = REPO / "build" / "avatar-job.png"
    good.write_bytes(PNG_1x1)
    page.set_input_files("#avatar-file", str(good))
    expect(page.locator("#avatar-note")).to_have_text("Processing your picture…")
    expect(page.locator("#avatar-note")).to_have_text("New avatar saved.", timeout=10_000)
    assert page.locator("#avatar").get_attribute("src") == avatar and polls == [7, 7]
    page.set_input_files("#avatar-file", str(good))
    expect(page.locator("#avatar-note")).to_have_text("The picture is 5000 x 20 pixels; the limit is 4096 on a side.",
                                                      timeout=10_000)
    assert polls == [7, 7, 8] and page.locator("#avatar").get_attribute("src") == avatar
    assert problems == []
    tab.context.close()


def _ask_to_be_friends(url: str, pid: int, name: str) -> float:
    """A new player ``name`` asks ``pid`` to be friends (as another browser would); when."""
    fan = httpx.post(url + "api/auth/guest", json={"name": name}).json()
    t0 = time.monotonic()
    r = httpx.post(url + "api/friends/requests", json={"player_id": pid},
                   headers={"Authorization": f"Bearer {fan['token']}", "Idempotency-Key": os.urandom(8).hex()})
    assert r.status_code == 201, r.text
    return t0


def test_a_friend_request_shows_at_once_by_the_live_stream_and_by_polling_without_it(game_url, browser):
    """With its live stream, the page shows a friend request at once, though it re-reads
    everything only every minute while the stream is open; where the stream cannot open (a
    proxy that refuses it, here the browser), it shows it by polling every REFRESH_S."""
    from playwright.sync_api import expect

    problems: list[str] = []
    live, blocked = Tab(browser, "desktop", problems), Tab(browser, "desktop", problems)
    refused = []

    def refuse(route):
        refused.append(time.monotonic())
        route.abort()

    blocked.context.route(re.compile(r"/api/events$"), refuse)
    for tab, name in ((live, "Streamer"), (blocked, "Poller")):
        with tab.page.expect_response(lambda r: "/api/config" in r.url):
            sign_in(tab, game_url, name)
    assert httpx.get(game_url + "api/config").json()["refresh_live_seconds"] >= 60  # no poll will do it
    live.page.wait_for_function("() => liveUp")
    for i, tab in enumerate((live, blocked)):
        pid = int(tab.page.locator("#player-id").inner_text())
        t0 = _ask_to_be_friends(game_url, pid, f"Fan{i}")
        expect(tab.page.locator("#requests")).to_contain_text(f"Fan{i} (#", timeout=5000)
        shown = time.monotonic() - t0
        print(f"\n{'streamed' if tab is live else 'polled'}: shown {shown * 1000:.0f} ms after the request")
        assert shown < (1.5 if tab is live else REFRESH_S + 1.5)
    assert live.page.evaluate("liveUp"), "the stream closed meanwhile: the test proved nothing"
    assert refused, "the page without a stream did not even try to open one"
    live.context.close()
    blocked.context.close()
    assert problems == []


def test_a_guest_is_asked_to_save_their_account_and_told_plainly_what_went_wrong(game_url, browser):
    """What a guest can lose is guarded where it matters, and every message is about what
    just happened: the prompt to save a recovery code after the first level; a code shown
    whole on a phone; a new code replaces the saved one only when asked; a success clears an
    earlier error; "Welcome" goes away; a name's refusal gives its own reason; the screen
    after a session ended elsewhere (the live stream hears it) says what a guest can do."""
    from playwright.sync_api import expect

    problems: list[str] = []
    tab = Tab(browser, "phone", problems)
    page = tab.page
    sign_in(tab, game_url, "Saver")
    expect(page.locator("#message")).to_have_text("Welcome, Saver!")
    expect(page.locator("#save-prompt")).to_be_hidden()
    act(page, 10)  # level 2: something to lose
    expect(page.locator("#save-prompt")).to_be_visible()
    expect(page.locator("#save-prompt")).to_contain_text("only a recovery code brings this account back")
    tab.check("save-prompt")
    expect(page.locator("#message")).to_have_text("", timeout=8000)  # the welcome went away
    page.click("#save-prompt-later")
    expect(page.locator("#save-prompt")).to_be_hidden()
    page.reload()
    expect(page.locator("#player-name")).to_have_text("Saver")
    expect(page.locator("#save-prompt")).to_be_hidden()  # "not now" holds for a day

    page.click("#make-recovery")
    code = page.locator("#recovery-code")
    expect(code).to_have_value(re.compile(r"^[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$"))
    first = code.input_value()
    assert code.evaluate("e => e.scrollWidth <= e.clientWidth"), "the recovery code is cut off on a phone"
    expect(page.locator("#make-recovery")).to_have_text("Get a new recovery code")
    page.reload()  # the code is no longer on screen: a new one would silently replace it
    expect(page.locator("#make-recovery")).to_have_text("Get a new recovery code")
    page.click("#make-recovery")
    expect(page.locator("#confirm-text")).to_contain_text("the old code stops working")
    page.click("#confirm-no")
    expect(page.locator("#recovery-box")).to_be_hidden()
    page.click("#make-recovery")
    page.click("#confirm-yes")
    expect(code).not_to_have_value(first)
    expect(code).to_have_value(re.compile(r"^[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$"))

    # an error note goes once something else succeeds
    page.route("**/api/shop/energy", lambda route: route.abort())
    page.click("#buy-energy")
    expect(page.locator("#buy-note")).to_have_class("note error")
    page.unroute("**/api/shop/energy")
    page.click("#act")
    expect(page.locator("#act-note")).to_contain_text("+5 coins")
    expect(page.locator("#buy-note")).not_to_have_class("note error")

    # a refused name says why it was refused
    for name, why in (("Zero\u200bWidth", "Names cannot contain invisible or control characters (such as a zero-width space)."),
                      ("Acce\u0301\u0301\u0301nt", "A letter in a name can carry at most 2 accents or marks.")):
        page.click("#rename")
        page.fill("#rename-name", name)
        page.click("#rename-save")
        expect(page.locator("#account-note")).to_have_text(why)
        page.click("#rename-cancel")

    # signed out on another device: the open page hears it and says what a guest can do
    token = page.evaluate("localStorage.getItem('token')")
    r = httpx.post(game_url + "api/auth/sign-out", headers={"Authorization": f"Bearer {token}",
                                                            "Idempotency-Key": os.urandom(8).hex()})
    assert r.status_code == 204
    expect(page.locator("#message")).to_contain_text("enter it below to get your account back", timeout=5000)
    expect(page.locator("#guest-signin")).to_be_visible()
    assert [page.locator(f"#{n}").inner_text() for n in ("account-note", "buy-note", "act-note")] == ["", "", ""]
    tab.check("session-ended")
    tab.context.close()
    assert problems == [], problems


# Facebook's SDK as the page uses it: init, and a login that answers with credentials the
# server will refuse (a signed_request that is not signed with the app's secret)
FB_SDK_STUB = """
window.FB = {
  init() {},
  login(callback) { callback({ authResponse: { accessToken: "refused-token", signedRequest: "bad.signature" } }); },
};
window.fbAsyncInit();
"""


def test_facebook_refusing_a_link_leaves_the_player_signed_in(game_url, browser):
    """A 401 about Facebook's credentials (linking, the friends import) is Facebook saying no:
    the page says so and the player plays on. It ended the player's session, as a 401 about
    our own session does, and a guest without a recovery code lost the account."""
    from playwright.sync_api import expect

    problems: list[str] = []
    tab = Tab(browser, "desktop", problems)
    tab.context.unroute(FB_SDK)
    tab.context.route(FB_SDK, lambda route: route.fulfill(body=FB_SDK_STUB, content_type="text/javascript"))
    sign_in(tab, game_url, "Linker")
    page = tab.page
    act(page)
    expect(page.locator("#fb-link")).to_be_visible()
    page.click("#fb-link")
    expect(page.locator("#account-note")).to_have_text("Facebook sign-in did not go through. Please try again.")
    expect(page.locator("#player-name")).to_have_text("Linker")
    assert page.evaluate("localStorage.getItem('token')"), "still signed in"
    page.reload()
    expect(page.locator("#player-name")).to_have_text("Linker")
    expect(page.locator("#coins")).to_have_text("55")
    assert problems == []
    tab.context.close()
