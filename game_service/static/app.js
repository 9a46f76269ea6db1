// Coin Quest: the game page. Talks only to /api/... and /media/... (same origin), so the
// same files work behind the CDN and from the local server.
"use strict";

const $ = (id) => document.getElementById(id);
const TITLE = document.title;
let refreshMs = 10000; // friends, requests, gifts and state refresh together this often (GET /api/config)
let liveRefreshMs = 60000; // ...and this often while a live stream is open
let refreshedAt = 0;  // Date.now() when the last refresh began
const RENEW_HEADER = "X-Session-Token"; // sliding sessions: the server hands out a fresh token

let token = localStorage.getItem("token");
let me = null;        // the player's state (GET /api/me), as of stateAt
let stateAt = 0;      // Date.now() when `me` arrived
let prog = null;      // GET /api/progress, as of progAt
let progAt = 0;
let config = {};
let fbReady = false;  // the Facebook SDK loaded and initialised
let lbScope = "friends";
let lbOffset = 0;
let lbNext = null;
let inviteCode = null;
let incomingRequests = 0;
let refreshing = null;
let writes = 0;       // counts writes starting and ending, so a refresh can tell it overlapped one

// ---------------------------------------------------------------- errors in plain words
const MESSAGES = {
  network: "Cannot reach the game right now. Check your connection and try again.",
  database_unavailable: "The game is busy for a moment. Please try again shortly.",
  rate_limited: "That was a lot of clicks! Wait a few seconds, then try again.",
  invalid_session: "Your session has ended. Please sign in again.",
  not_authenticated: "Please sign in first.",
  no_energy: "You are out of energy. It comes back by itself, one point at a time.",
  insufficient_coins: "You do not have enough coins for that yet.",
  energy_full: "Your energy bar has no room for a whole pack yet. Use some energy first.",
  already_claimed: "You already claimed that.",
  gift_limit: "You have sent all of today's gifts. More tomorrow!",
  gift_limit_recipient: "This friend has received all the gifts they can today. Try again tomorrow.",
  too_many_requests_sent: "You have many friend requests waiting for an answer. Wait for some replies first.",
  too_many_requests_received: "This player has too many friend requests waiting. Try again later.",
  signup_limited: "Too many new players joined from your network just now. Please try again later.",
  player_deleted: "This account was just deleted. Please sign in again.",
  idempotency_key_reused: "Something went wrong. Please try again.",
  bad_request: "Something went wrong. Please try again.",
  already_gifted: "You already sent this friend a gift today.",
  already_friends: "You are already friends.",
  already_requested: "You already asked this player; they have not answered yet.",
  invalid_friend: "You cannot add yourself as a friend.",
  own_invite: "This is your own invite link. Share it with a friend!",
  unknown_recovery_code: "That recovery code does not match any account. Check it and try again.",
  recovery_code_issued: "Your new recovery code was lost on the way. Please make another one.",
  castle_complete: "Your castle is complete!",
  castle_changed: "Your castle changed in the meantime. Please try again.",
  invalid_upload: "That file is not a picture we can use. Choose a PNG, JPEG, GIF or WebP image under 2 MB.",
  queue_unavailable: "Pictures cannot be processed right now. Please try again in a minute.",
  avatar_slow: "Your picture is taking longer than usual. It will show up here once it is ready.",
  import_slow: "Looking for your Facebook friends is taking longer than usual. They will show up in your list.",
  entity_too_large: "That picture is too big. Choose one under 2 MB.",
  upload_denied: "The upload was refused. Please choose the picture again.",
  facebook_in_use: "This Facebook account already belongs to another player.",
  facebook_linked: "Your account is already linked to another Facebook account.",
  facebook_mismatch: "Sign in to Facebook with the account linked to this game, then try again.",
  facebook_disabled: "Facebook sign-in is unavailable right now. You can play as a guest.",
  facebook_cancelled: "Facebook sign-in was cancelled.",
  facebook_unreachable: "Facebook is not answering right now. Please try again later.",
  facebook_error: "Facebook is not answering right now. Please try again later.",
  invalid_signed_request: "Facebook sign-in did not go through. Please try again.",
  invalid_access_token: "Facebook sign-in did not go through. Please try again.",
};
const FALLBACK = "Something went wrong. Please try again.";

class GameError extends Error {
  constructor(code, status) {
    super(MESSAGES[code] || FALLBACK);
    this.code = code;
    this.status = status;
  }
}

// The sentence for an error: the caller's words for a code or status first, then the table.
function sentence(e, words = {}) {
  if (!(e instanceof GameError)) return FALLBACK;
  return words[e.code] || words[e.status] || e.message;
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return String(Date.now()) + Math.random().toString(16).slice(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One API call. A write carries its own Idempotency-Key. A call that got no answer (refused,
// or cut off before its body arrived: a host dying mid-response) or a gateway's 502/503/504
// (the server may have committed the write before the answer was lost, or was briefly
// unavailable) is sent once more, half a second later, with the same key: the retry never
// applies a write twice. `withStatus`: answers { status, data }, for a call whose success
// comes in two kinds (the avatar, the friends import: 200 done, 202 handed to a worker).
const RETRIED_STATUSES = new Set([502, 503, 504]);

// The server renews a session by answering a fresh token in a header: the page keeps it.
function keepRenewedToken(res) {
  const renewed = res.headers.get(RENEW_HEADER);
  if (renewed && token) { token = renewed; localStorage.setItem("token", token); }
}
const FACEBOOK_REFUSALS = new Set(["invalid_access_token", "invalid_signed_request"]);
async function api(method, path, body, { withStatus = false } = {}) {
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") { headers["Idempotency-Key"] = newKey(); writes++; }
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  const send = async () => { const r = await fetch(path, init); return [r, await r.text()]; };
  let res, text;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        [res, text] = await send();
      } catch (e) {
        if (attempt > 1) throw new GameError("network", 0);
        await sleep(500);
        continue;
      }
      if (attempt > 1 || !RETRIED_STATUSES.has(res.status)) break;
      await sleep(500);
    }
  } finally {
    if (method !== "GET") writes++;
  }
  keepRenewedToken(res);
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const code = (data && data.error) || (res.status >= 500 ? "database_unavailable" : "unknown");
    // a 401 about our session ends it; one about Facebook's credentials (linking, the import)
    // is Facebook saying no, and the player stays signed in
    if (res.status === 401 && token && !FACEBOOK_REFUSALS.has(code)) sessionEnded();
    throw new GameError(code, res.status);
  }
  return withStatus ? { status: res.status, data } : data;
}

// ---------------------------------------------------------------- feedback next to the action
function note(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.className = "note" + (kind ? " " + kind : "");
}

function say(text, isError = false, { fade = false } = {}) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
  clearTimeout(m._t);
  if (fade) m._t = setTimeout(() => { if (m.textContent === text) say(""); }, 6000);
}

// An error note is about what was just tried: the next success anywhere on the page clears it.
function clearErrors() {
  for (const el of document.querySelectorAll(".note.error")) note(el.id, "");
  if ($("message").className === "error") say("");
}

// Every note emptied (signing out: nothing of the last player stays on the screen).
function clearNotes() {
  for (const el of document.querySelectorAll(".note")) { note(el.id, ""); delete el.dataset.fresh; delete el.dataset.zero; }
  say("");
}

// Run a click's request with its button busy (disabled, aria-busy) until it answers, then
// put the outcome next to the action. Returns what fn returned, or undefined on an error.
async function busy(btn, noteId, fn, words) {
  if (btn.dataset.busy) return undefined;
  btn.dataset.busy = "1";
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } catch (e) {
    if (noteId) fresh(noteId, sentence(e, words), "error"); else say(sentence(e, words), true);
    return undefined;
  } finally {
    delete btn.dataset.busy;
    btn.removeAttribute("aria-busy");
    btn.disabled = false;
    updateControls();
  }
}

// A wait of minutes or hours, in words: "5 h 03 min", "34 min", "45 s".
function wait(seconds) {
  seconds = Math.max(0, Math.ceil(seconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60), h = Math.floor(minutes / 60), m = minutes % 60;
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min`;
}

// A countdown: "2:59" (minutes:seconds), or hours and minutes past an hour.
function clock(seconds) {
  seconds = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  return `${m}:${String(s).padStart(2, "0")}`;
}

// ---------------------------------------------------------------- lists
function empty(list, text) {
  if (!list.children.length) {
    const el = document.createElement("li");
    el.className = "empty";
    el.textContent = text;
    list.appendChild(el);
  }
}

function li(text, ...buttons) {
  const el = document.createElement("li");
  const span = document.createElement("span");
  span.textContent = text;
  el.appendChild(span);
  if (buttons.length) {
    const group = document.createElement("span");
    group.className = "buttons";
    for (const b of buttons) group.appendChild(b);
    el.appendChild(group);
  }
  return el;
}

function button(label, noteId, onClick, { disabled = false, danger = false, words } = {}) {
  const b = document.createElement("button");
  b.textContent = label;
  b.disabled = disabled;
  if (danger) b.className = "danger";
  b.addEventListener("click", () => busy(b, noteId, onClick, words));
  return b;
}

function confirmDialog(text, yes) {
  const d = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  d.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    const done = (answer) => () => { d.close(); resolve(answer); };
    $("confirm-yes").onclick = done(true);
    $("confirm-no").onclick = done(false);
    d.oncancel = done(false);
  });
}

// ---------------------------------------------------------------- the player's state
// Energy as of now, counted on the page between reads (the server's rule: one point every
// refill period up to the cap, the period from GET /api/progress); returns the energy and
// the seconds to the next point.
function energyNow() {
  if (!me || !prog) return { energy: 0, next: null };
  const refill = prog.energy_refill_seconds;
  let energy = me.energy;
  if (me.next_energy_in_seconds === null || energy >= me.energy_cap) return { energy, next: null };
  let next = me.next_energy_in_seconds - (Date.now() - stateAt) / 1000;
  while (next <= 0 && energy < me.energy_cap) { energy += 1; next += refill; }
  return { energy, next: energy >= me.energy_cap ? null : next, refill };
}

function renderState(s) {
  const before = me;
  me = s;
  stateAt = Date.now();
  $("player-name").textContent = s.name;
  $("player-id").textContent = s.id;
  $("level").textContent = s.level;
  const into = s.xp % s.xp_per_level;
  $("xp-text").textContent = `XP ${s.xp} (${into} of ${s.xp_per_level} to level ${s.level + 1})`;
  $("xp-bar").max = s.xp_per_level;
  $("xp-bar").value = into;
  $("xp-bar").setAttribute("aria-valuetext", `${into} of ${s.xp_per_level} XP to level ${s.level + 1}`);
  $("coins").textContent = s.coins;
  $("energy-cap").textContent = s.energy_cap;
  if (s.avatar_url) $("avatar").src = s.avatar_url;
  if (s.gifts_waiting !== undefined) $("gifts-waiting").textContent = s.gifts_waiting || "";
  $("fb-link").hidden = !fbReady || s.facebook_linked;
  $("fb-import").hidden = !fbReady || !s.facebook_linked;
  $("account-text").textContent = s.facebook_linked
    ? "Your account is linked to Facebook: sign in with Facebook on any device. A recovery code works too."
    : "You play as a guest: this browser holds the only key to your account. Get a recovery code to play on another device or after clearing the browser.";
  if (before && before.id === s.id && s.level > before.level) {
    note("act-note", `Level up! You reached level ${s.level}.`, "ok");
  }
  updateTitle();
  maybeAskToSave();
  tick();
}

function renderProgress(p) {
  prog = p;
  progAt = Date.now();
  const c = p.castle;
  $("castle-level").textContent = c.level;
  $("castle-max").textContent = c.max_level;
  const view = $("castle-view");
  view.replaceChildren();
  for (let i = 0; i < c.level; i++) {
    const t = document.createElement("div");
    t.className = "tower";
    t.style.height = `${20 + Math.min(i, 9) * 6}px`;
    view.appendChild(t);
  }
  view.setAttribute("aria-label", c.level ? `A castle with ${c.level} tower${c.level > 1 ? "s" : ""}` : "An empty plot");
  $("castle-upgrade").textContent = c.next_price === null ? "Castle complete" : `Build level ${c.level + 1} (${c.next_price} coins)`;
  $("buy-energy").textContent = `Buy ${p.energy_pack.amount} energy (${p.energy_pack.price} coins)`;
  $("daily").textContent = `Claim daily reward (+${p.daily.coins} coins)`;
  renderRecoveryButtons();
  maybeAskToSave();
  tick();
}

// "Get a recovery code", or "a new one" once there is one (which the new one replaces).
function renderRecoveryButtons() {
  $("make-recovery").textContent = prog && prog.recovery_code ? "Get a new recovery code" : "Get a recovery code";
}

// A guest without a recovery code is asked to save one once there is something to lose (the
// first level up, the first castle level): a guest whose browser forgets them, or who does not
// play for 7 days, can come back only with one. "Not now" waits a day.
const LATER_KEY = "savePromptLater";
function maybeAskToSave() {
  const later = Number(localStorage.getItem(LATER_KEY) || 0);
  const show = !!(me && prog && !me.facebook_linked && !prog.recovery_code && Date.now() - later > 86400000
    && (me.level >= 2 || prog.castle.level >= 1));
  $("save-prompt").hidden = !show;
}

// Why the server refuses a name (game_service/names.py), in the player's words.
function nameProblem(name) {
  if ([...name].length > 40) return "Names can be up to 40 characters.";
  if (/[<>]/.test(name)) return "Names cannot contain < or >.";
  if (/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u.test(name)) {
    return "Names cannot contain invisible or control characters (such as a zero-width space).";
  }
  if (/^\p{M}/u.test(name)) return "A name cannot begin with an accent or a mark on its own.";
  if (/\p{M}{3,}/u.test(name)) return "A letter in a name can carry at most 2 accents or marks.";
  return "A name needs at least one visible letter, number or symbol.";
}

// Enable or disable each action from the state, unless its request is running.
function updateControls() {
  if (!$("lb-next").dataset.busy) $("lb-next").disabled = lbNext === null;
  if (!$("lb-prev").dataset.busy) $("lb-prev").disabled = lbOffset === 0;
  if (!me || !prog) return;
  const { energy } = energyNow();
  const set = (id, disabled) => { const b = $(id); if (!b.dataset.busy) b.disabled = disabled; };
  set("act", energy < prog.action_energy_cost);
  const pack = prog.energy_pack;
  set("buy-energy", energy + pack.amount > me.energy_cap || me.coins < pack.price);
  set("daily", !prog.daily.available);
  const c = prog.castle;
  set("castle-upgrade", c.next_price === null || me.coins < c.next_price);
}

// Once a second: the energy countdown, the daily reward's countdown, the notes that depend on them.
function tick() {
  if (!me || !prog) return;
  const { energy, next, refill } = energyNow();
  $("energy").textContent = energy;
  if (next === null) {
    $("refill").textContent = "Energy full";
  } else {
    const full = next + (me.energy_cap - energy - 1) * refill;
    $("refill").textContent = `+1 in ${clock(next)} · full in ${clock(full)}`;
  }
  const actNote = $("act-note");
  if (energy < prog.action_energy_cost) {
    // said once (a live region read out at each change); the timer above counts the seconds
    if (!actNote.dataset.zero) note("act-note", `Out of energy: the next point comes in ${wait(next)}.`);
    actNote.dataset.zero = "1";
  } else if (actNote.dataset.zero) {
    delete actNote.dataset.zero;
    note("act-note", "Energy is back: off you go!", "ok");
  }
  const d = prog.daily;
  const streak = d.streak ? ` Streak: ${d.streak} day${d.streak > 1 ? "s" : ""} in a row.` : "";
  if (!d.available) {
    const left = d.next_in_seconds - (Date.now() - progAt) / 1000;
    if (left <= 0 && left > -5) guardedRefresh(); // a new day: the reward is back
    const noteEl = $("daily-note");
    if (!noteEl.dataset.fresh) note("daily-note", `Next reward in ${wait(left)}.${streak}`);
  } else if (!$("daily-note").dataset.fresh) {
    note("daily-note", d.streak ? `Claim today to keep your streak of ${d.streak} day${d.streak > 1 ? "s" : ""}.` : "A reward every day; claim days in a row for a streak.");
  }
  const pack = prog.energy_pack;
  if (!$("buy-note").dataset.fresh) {
    if (energy + pack.amount > me.energy_cap) {
      note("buy-note", `Packs never fill the bar past ${me.energy_cap}: there is room for one at ${me.energy_cap - pack.amount} energy or less.`);
    } else if (me.coins < pack.price) {
      note("buy-note", `A pack costs ${pack.price} coins; you have ${me.coins}.`);
    } else {
      note("buy-note", "");
    }
  }
  const c = prog.castle;
  if (!$("castle-note").dataset.fresh) {
    if (c.next_price === null) note("castle-note", "Your castle is complete. Well built!", "ok");
    else if (me.coins < c.next_price) note("castle-note", `You need ${c.next_price - me.coins} more coins for the next level.`);
    else note("castle-note", "");
  }
  updateControls();
}

// A result note stays a few seconds before the countdown notes take the place back.
function fresh(id, text, kind = "ok") {
  const el = $(id);
  if (kind !== "error") clearErrors();
  note(id, text, kind);
  delete el.dataset.zero; // the out-of-energy note (tick) was replaced: it is said again
  el.dataset.fresh = "1";
  clearTimeout(el._t);
  el._t = setTimeout(() => { delete el.dataset.fresh; tick(); }, kind === "error" ? 8000 : 5000);
}

function updateTitle() {
  const waiting = ((me && me.gifts_waiting) || 0) + incomingRequests;
  document.title = waiting ? `(${waiting}) ${TITLE}` : TITLE;
}

// ---------------------------------------------------------------- refresh everything together
async function refreshState() { renderState(await api("GET", "/api/me")); }
async function refreshProgress() { renderProgress(await api("GET", "/api/progress")); }

const lbPath = () => `/api/leaderboard?scope=${lbScope}&limit=10&offset=${lbOffset}`;

function renderFriends(f) {
  const req = $("requests");
  req.replaceChildren();
  incomingRequests = f.incoming_requests.length;
  for (const r of f.incoming_requests) {
    req.appendChild(li(`${r.player.name} (#${r.player.id}) wants to be friends`,
      button("Accept", "friends-note", async () => {
        await api("POST", `/api/friends/requests/${r.request_id}/accept`);
        fresh("friends-note", `You and ${r.player.name} are now friends.`);
        await refreshAll();
      }, { words: { not_found: "That request was withdrawn." } }),
      button("Decline", "friends-note", async () => {
        await api("DELETE", `/api/friends/requests/${r.request_id}`);
        await refreshAll();
      }, { words: { not_found: "That request was withdrawn." } })));
  }
  for (const r of f.outgoing_requests) {
    req.appendChild(li(`Waiting for ${r.player.name} (#${r.player.id}) to answer`,
      button("Cancel", "friends-note", async () => {
        await api("DELETE", `/api/friends/requests/${r.request_id}`);
        await refreshAll();
      }, { words: { not_found: "That request was already answered." } })));
  }
  empty(req, "No friend requests");
  const list = $("friends");
  list.replaceChildren();
  for (const fr of f.friends) {
    list.appendChild(li(`${fr.name} (#${fr.id}), level ${fr.level}`,
      button(fr.gift_sent_today ? "Gift sent" : "Send gift", "friends-note", async () => {
        await api("POST", "/api/gifts", { to_player_id: fr.id });
        fresh("friends-note", `Gift sent to ${fr.name}!`);
        await refreshAll();
      }, { disabled: fr.gift_sent_today, words: { not_found: `${fr.name} is no longer your friend.` } }),
      button("Remove", "friends-note", async () => {
        if (!(await confirmDialog(`Remove ${fr.name} from your friends? You can add them again later.`, "Remove"))) return;
        await api("DELETE", `/api/friends/${fr.id}`);
        fresh("friends-note", `${fr.name} is no longer your friend.`);
        await refreshAll();
      }, { danger: true, words: { not_found: `${fr.name} is no longer your friend.` } })));
  }
  empty(list, "No friends yet: share your invite link or search by name.");
  updateTitle();
}

function renderInbox(inbox) {
  const ul = $("inbox");
  ul.replaceChildren();
  for (const g of inbox.items) {
    ul.appendChild(li(`${g.coins} coins from ${g.from.name}`,
      button(g.claimed ? "Claimed" : "Claim", "gifts-note", async () => {
        const r = await api("POST", `/api/gifts/${g.id}/claim`);
        fresh("gifts-note", `+${r.coins_earned} coins from ${g.from.name}!`);
        await refreshAll();
      }, { disabled: g.claimed, words: { already_claimed: "You already claimed this gift.", not_found: "This gift is gone." } })));
  }
  empty(ul, "No gifts yet");
}

async function refreshLeaderboard() { renderLeaderboard(await api("GET", lbPath())); }

function renderLeaderboard(lb) {
  const ol = $("leaderboard");
  ol.replaceChildren();
  ol.start = lbOffset + 1;
  ol.style.setProperty("--start", lbOffset);
  for (const p of lb.items) {
    const el = li(`${p.name} (level ${p.level}, ${p.xp} XP)`);
    if (me && p.id === me.id) el.classList.add("me");
    ol.appendChild(el);
  }
  lbNext = lb.next_offset;
  updateControls();
  for (const [id, scope] of [["lb-friends", "friends"], ["lb-global", "global"]]) {
    $(id).setAttribute("aria-selected", String(lbScope === scope));
    $(id).tabIndex = lbScope === scope ? 0 : -1;
  }
}

// Everything the page shows, read together, so no part is older than another. A refresh
// asked for after a write waits for one already running, then reads again.
async function refreshAll() {
  while (refreshing) await refreshing.catch(() => {});
  refreshing = (async () => {
    refreshedAt = Date.now();
    try {
      // a write that ran while these were read may be newer than what they say: read again
      for (let attempt = 0; attempt < 3; attempt++) {
        const seen = writes;
        const [s, p, f, g, lb] = await Promise.all(
          ["/api/me", "/api/progress", "/api/friends", "/api/gifts", lbPath()].map((path) => api("GET", path)));
        if (seen !== writes && attempt < 2) continue;
        renderState(s); renderProgress(p); renderFriends(f); renderInbox(g); renderLeaderboard(lb);
        break;
      }
      if ($("message").className === "error") say("");
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function guardedRefresh() {
  if (!token || refreshing) return;
  try { await refreshAll(); } catch (e) { if (token) say(sentence(e), true); }
}

// ---------------------------------------------------------------- live updates
// While signed in, the page holds a stream of what happens to its player (GET /api/events:
// server-sent events, read with fetch so that it carries the session like every call). An
// event (a friend request, a new friend, a gift) refreshes what the page shows at once. A
// stream ends now and then (its server stops, or its time is up): the next one opens at once
// from the last event id, and the server sends what came in between. While no stream is open
// (it cannot open, or it broke) the page re-reads everything every refresh_seconds as it
// always did, and tries the stream again, less often each time.
let live = null;          // the open stream's AbortController
let liveUp = false;       // a stream is open
let lastEventId = null;   // the last event id seen (the stream's first event gives where it starts)
let liveWanted = false;   // an event asked for a refresh that has not begun
let liveRefreshing = false;

function pollMs() { return liveUp ? liveRefreshMs : refreshMs; }

async function liveRefresh() {
  liveWanted = true;
  if (liveRefreshing) return;
  liveRefreshing = true;
  try {
    while (liveWanted && token) {
      liveWanted = false;
      try { await refreshAll(); } catch (e) { if (token) say(sentence(e), true); }
    }
  } finally {
    liveRefreshing = false;
  }
}

// Reads server-sent events from a response body: calls onEvent({id, event, data}) for each.
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const ev = {};
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue; // a comment: the stream's keep-alive
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? "" : line.slice(i + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        ev[field] = ev[field] === undefined ? value : ev[field] + "\n" + value;
      }
      if (ev.id !== undefined || ev.event !== undefined) onEvent(ev);
    }
  }
}

// One stream at a time: startLive() ends any other (a new sign-in), stopLive() ends it.
let liveGen = 0;

function startLive() {
  stopLive();
  runLive(++liveGen);
}

function stopLive() {
  liveGen++;
  if (live) live.abort();
  live = null;
  liveUp = false;
  lastEventId = null;
}

async function runLive(gen) {
  let failures = 0;
  while (token && gen === liveGen) {
    const ctl = new AbortController();
    live = ctl;
    let opened = false;
    try {
      const headers = { "Accept": "text/event-stream", "Authorization": "Bearer " + token };
      const resuming = lastEventId !== null;
      if (resuming) headers["Last-Event-ID"] = lastEventId;
      const asked = Date.now();
      const res = await fetch("/api/events", { headers, signal: ctl.signal, cache: "no-store" });
      keepRenewedToken(res);
      if (res.status === 401) { if (token) sessionEnded(); return; }
      if (res.ok && res.body) {
        opened = true;
        liveUp = true;
        failures = 0;
        await readEvents(res.body, (ev) => {
          if (gen !== liveGen) return;
          if (ev.id !== undefined) lastEventId = ev.id;
          // a stream that starts from now (no last event id) announces nothing older: what
          // came before it is read once, unless a refresh began since the stream was asked for
          if (ev.event === "open" ? !resuming && refreshedAt < asked : ev.event) liveRefresh();
        });
      }
    } catch (e) {
      // the network, or the stream cut off: polling covers it until the next stream opens
    } finally {
      if (live === ctl) { live = null; liveUp = false; }
    }
    if (gen !== liveGen || !token) return;
    if (!opened) failures++;
    await sleep(opened ? 100 : Math.min(30000, 1000 * 2 ** Math.min(failures - 1, 5)));
  }
}

// ---------------------------------------------------------------- signing in and out
function showGame(on) {
  $("signin").hidden = on;
  $("game").hidden = !on;
  $("sign-out").hidden = !on;
}

function forget() {
  token = null;
  stopLive();
  clearNotes();
  $("save-prompt").hidden = true;
  me = null;
  prog = null;
  inviteCode = null;
  localStorage.removeItem("token");
  document.title = TITLE;
  $("recovery-box").hidden = true;
  showGame(false);
}

// Signing out ends this account's sessions on the server too (a copied token stops working);
// if the server cannot be reached, the page forgets its token all the same.
async function signOutEverywhere() {
  try { await api("POST", "/api/auth/sign-out"); } catch (e) { /* signed out here regardless */ }
  forget();
}

// Linking Facebook revokes older tokens and answers with the new one.
function linked(r) {
  if (r.token) { token = r.token; localStorage.setItem("token", token); }
  renderState(r);
}

function sessionEnded() {
  const facebook = me && me.facebook_linked;
  forget();
  say(facebook ? "Your session has ended. Sign in with Facebook to come back."
    : "Your session has ended. If you saved a recovery code, enter it below to get your account back; "
      + "without one, this account cannot be reached again: you can start a new game as a guest.", true);
}

async function signedIn(res) {
  token = res.token;
  localStorage.setItem("token", token);
  showGame(true);
  say(`Welcome, ${res.player.name}!`, false, { fade: true });
  startLive();
  await refreshAll();
  $("player-name").focus();
  await acceptPendingInvite();
  await loadInvite();
}

const EVERY_DEVICE = "Signing out signs this account out on every device where it is signed in.";

async function signOutClicked() {
  const facebook = me && me.facebook_linked;
  const hasCode = prog && prog.recovery_code;
  $("signout-text").textContent = facebook
    ? `${EVERY_DEVICE} Sign in with Facebook to come back.`
    : hasCode
      ? `${EVERY_DEVICE} You play as a guest: to come back, you will need your recovery code. If you lost it, get a new one before signing out.`
      : `${EVERY_DEVICE} You play as a guest: this browser holds the only key to your account. If you sign out without saving it, your coins, castle and friends are lost. Save your progress first:`;
  $("signout-code-box").hidden = true;
  note("signout-note", "");
  $("signout-save").hidden = facebook;
  $("signout-save").textContent = hasCode ? "Get a new recovery code" : "Get a recovery code";
  $("signout-fb").hidden = facebook || !fbReady;
  $("signout-confirm").textContent = facebook ? "Sign out" : "Sign out anyway";
  $("signout-dialog").showModal();
  $(facebook ? "signout-cancel" : "signout-save").focus();
}

async function makeRecoveryCode(btn, noteId, input, box) {
  if (prog && prog.recovery_code && $(box).hidden && !(await confirmDialog(
    "You already have a recovery code. A new one replaces it: the old code stops working. Get a new code?",
    "Get a new code"))) { btn.focus(); return; }
  const r = await busy(btn, noteId, () => api("POST", "/api/me/recovery-code"));
  if (!r) return;
  $(input).value = r.code;
  $(box).hidden = false;
  if (prog) prog.recovery_code = true;
  $("save-prompt").hidden = true;
  renderRecoveryButtons();
  fresh(noteId, "Here is your recovery code. Copy it and keep it somewhere safe: it brings this account back on any device.");
  $(input).select();
}

async function copy(inputId, noteId, what) {
  const input = $(inputId);
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (e) {
    input.select();
    if (!document.execCommand || !document.execCommand("copy")) {
      note(noteId, `Select the ${what} and copy it yourself.`, "error");
      return;
    }
  }
  fresh(noteId, `${what[0].toUpperCase()}${what.slice(1)} copied.`);
}

// ---------------------------------------------------------------- invites
function inviteFromUrl() {
  const code = new URLSearchParams(location.search).get("invite");
  if (code) {
    sessionStorage.setItem("invite", code);
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("invite");
}

async function greetInvitee(code) {
  try {
    const r = await api("GET", `/api/invites/${encodeURIComponent(code)}`);
    $("invite-note").textContent = `${r.player.name} invited you to play. Sign in and you become friends.`;
  } catch (e) {
    $("invite-note").textContent = "This invite link is no longer valid, but you can still play.";
    sessionStorage.removeItem("invite");
  }
  $("invite-note").hidden = false;
}

async function acceptPendingInvite() {
  const code = sessionStorage.getItem("invite");
  if (!code || !token) return;
  sessionStorage.removeItem("invite");
  $("invite-note").hidden = true;
  try {
    const r = await api("POST", `/api/invites/${encodeURIComponent(code)}/accept`);
    fresh("friends-note", r.status === "friends" ? `You and ${r.player.name} are now friends!` : `You and ${r.player.name} are already friends.`);
    say(`You and ${r.player.name} are friends.`);
    await refreshAll();
  } catch (e) {
    note("friends-note", sentence(e, { not_found: "That invite link is no longer valid.", 422: "That invite link is no longer valid." }), "error");
  }
}

async function loadInvite() {
  if (inviteCode || !token) return;
  try {
    const r = await api("POST", "/api/invites");
    inviteCode = r.code;
    $("invite-link").value = new URL(r.path, location.href).href;
  } catch (e) {
    $("invite-link").value = "";
  }
}

// ---------------------------------------------------------------- avatar
async function uploadAvatar(file) {
  const post = await api("POST", "/api/me/avatar/upload-url", { content_type: file.type });
  if (file.size > post.max_bytes) {
    throw new GameError("entity_too_large", 413);
  }
  const form = new FormData();
  for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
  form.append("file", file);
  let up;
  try { up = await fetch(post.url, { method: "POST", body: form }); } catch (e) { throw new GameError("network", 0); }
  if (!up.ok) throw new GameError(up.status === 413 || up.status === 400 ? "entity_too_large" : "upload_denied", up.status);
  const saved = await api("POST", "/api/me/avatar", { key: post.key }, { withStatus: true });
  if (saved.status === 202) return avatarJob(saved.data);
  renderState(saved.data);  // no job queue (a local run): the server checked the picture itself
  fresh("avatar-note", "New avatar saved.");
}

// With a job queue the server answers 202 at once and a worker does the work (the avatar, the
// friends import): the page reads the job about once a second, for at most a minute, until it
// is done or refused. A poll that fails on the way (the network, a busy server) is tried again
// at the next second. The finished job, or null when it is still coming after the minute.
const JOB_POLL_MS = 1000;
const JOB_WAIT_MS = 60000;
async function followJob(job, noteId, working, slow) {
  note(noteId, working);
  const until = Date.now() + JOB_WAIT_MS;
  while (job.state === "processing") {
    if (Date.now() >= until) {  // still coming: the page's refresh shows it once it is done
      note(noteId, slow);
      return null;
    }
    await sleep(JOB_POLL_MS);
    try {
      job = await api("GET", job.href);
    } catch (e) {
      if (!(e instanceof GameError) || (e.status !== 0 && e.status < 500)) throw e;
    }
  }
  if (job.state !== "done") {
    // refused (the reason says why, for the player) or failed
    note(noteId, job.reason || FALLBACK, "error");
    return null;
  }
  return job;
}

async function avatarJob(job) {
  if (!await followJob(job, "avatar-note", "Processing your picture…", MESSAGES.avatar_slow)) return;
  await refreshState();
  fresh("avatar-note", "New avatar saved.");
}

// ---------------------------------------------------------------- Facebook (optional)
// The SDK is loaded only when the server has a Facebook app. Ad blockers often block it:
// the page then says Facebook is unavailable and works on without it.
function loadFacebook() {
  return new Promise((resolve) => {
    const unavailable = () => {
      fbReady = false;
      $("fb-signin").hidden = true;
      $("fb-unavailable").hidden = false;
      if (me) renderState(me);
      resolve(false);
    };
    const timer = setTimeout(unavailable, 10000);
    window.fbAsyncInit = () => {
      clearTimeout(timer);
      try {
        window.FB.init({ appId: config.facebook_app_id, cookie: false, xfbml: false, version: "v21.0" });
      } catch (e) { unavailable(); return; }
      fbReady = true;
      $("fb-signin").hidden = false;
      $("fb-unavailable").hidden = true;
      if (me) renderState(me);
      resolve(true);
    };
    const s = document.createElement("script");
    s.src = "https://connect.facebook.net/en_US/sdk.js";
    s.async = true;
    s.onerror = () => { clearTimeout(timer); unavailable(); };
    document.head.appendChild(s);
  });
}

function facebookAuth() {
  return new Promise((resolve, reject) => {
    if (!fbReady || !window.FB) return reject(new GameError("facebook_disabled", 0));
    window.FB.login((resp) => {
      if (!resp || !resp.authResponse) return reject(new GameError("facebook_cancelled", 0));
      resolve(resp.authResponse);
    }, { scope: "public_profile,user_friends" });
  });
}

// ---------------------------------------------------------------- wiring
function wire() {
  $("guest-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("guest-name").value.trim();
    busy($("guest-signin"), "signin-note", async () => signedIn(await api("POST", "/api/auth/guest", name ? { name } : undefined)),
      { invalid_request: nameProblem(name) });
  });
  $("recover-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("recover-code").value.trim();
    if (!code) { note("signin-note", "Enter your recovery code first.", "error"); return; }
    busy($("recover-submit"), "signin-note", async () => {
      const r = await api("POST", "/api/auth/recover", { code });
      $("recover-code").value = "";
      await signedIn(r);
      say(`Welcome back, ${r.player.name}!`, false, { fade: true });
    }, { invalid_request: MESSAGES.unknown_recovery_code });
  });
  $("sign-out").addEventListener("click", signOutClicked);
  $("signout-cancel").addEventListener("click", () => { $("signout-dialog").close(); $("sign-out").focus(); });
  $("signout-confirm").addEventListener("click", async () => {
    await signOutEverywhere();
    $("signout-dialog").close();
    say("Signed out.");
    $("guest-name").focus();
  });
  $("signout-save").addEventListener("click", async () => {
    await makeRecoveryCode($("signout-save"), "signout-note", "signout-code", "signout-code-box");
    if (!$("signout-code-box").hidden) $("signout-confirm").textContent = "I saved my code: sign out";
  });
  $("signout-copy").addEventListener("click", () => copy("signout-code", "signout-note", "recovery code"));
  $("signout-fb").addEventListener("click", () => busy($("signout-fb"), "signout-note", async () => {
    const auth = await facebookAuth();
    linked(await api("POST", "/api/me/facebook", { signed_request: auth.signedRequest }));
    fresh("signout-note", "Facebook linked: sign in with Facebook to come back.");
    $("signout-confirm").textContent = "Sign out";
  }));

  $("act").addEventListener("click", () => busy($("act"), "act-note", async () => {
    const level = me.level;
    const r = await api("POST", "/api/actions");
    renderState({ ...me, ...r.player });
    const up = r.player.level > level ? ` Level up! You reached level ${r.player.level}.` : "";
    fresh("act-note", `+${r.coins_earned} coins, +${r.xp_earned} XP.${up}`);
    refreshLeaderboard().catch(() => {});
  }));
  $("daily").addEventListener("click", () => busy($("daily"), "daily-note", async () => {
    const r = await api("POST", "/api/daily-reward");
    await Promise.all([refreshState(), refreshProgress()]);
    const st = prog.daily.streak;
    fresh("daily-note", `+${r.coins_earned} coins! Streak: ${st} day${st > 1 ? "s" : ""}. Next reward in ${wait(prog.daily.next_in_seconds)}.`);
  }, { already_claimed: "You already claimed today's reward. Come back tomorrow!" }));
  $("buy-energy").addEventListener("click", () => busy($("buy-energy"), "buy-note", async () => {
    const r = await api("POST", "/api/shop/energy");
    renderState({ ...me, ...r.player });
    fresh("buy-note", `+${r.energy_added} energy for ${r.coins_spent} coins.`);
  }));
  $("castle-upgrade").addEventListener("click", () => busy($("castle-upgrade"), "castle-note", async () => {
    const r = await api("POST", "/api/castle/upgrade");
    renderProgress({ ...prog, castle: r.castle });
    await refreshState();
    fresh("castle-note", `Your castle reached level ${r.castle.level}! (${r.coins_spent} coins)`);
  }));

  $("rename").addEventListener("click", () => {
    $("rename-form").hidden = false;
    $("rename").hidden = true;
    $("rename-name").value = me ? me.name : "";
    $("rename-name").focus();
  });
  const closeRename = () => { $("rename-form").hidden = true; $("rename").hidden = false; $("rename").focus(); };
  $("rename-cancel").addEventListener("click", closeRename);
  $("rename-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("rename-name").value.trim();
    if (!name) return;
    busy($("rename-save"), "account-note", async () => {
      renderState({ ...me, ...(await api("PATCH", "/api/me", { name })) });
      closeRename();
      fresh("account-note", `You are now called ${name}.`);
    }, { invalid_request: nameProblem(name) });
  });

  $("copy-invite").addEventListener("click", () => copy("invite-link", "friends-note", "invite link"));
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("search-name").value.trim();
    if (q.length < 2) { note("friends-note", "Type at least two letters of a name.", "error"); return; }
    busy($("search"), "friends-note", async () => {
      const r = await api("GET", `/api/players?q=${encodeURIComponent(q)}`);
      const ul = $("search-results");
      ul.replaceChildren();
      for (const p of r.items) {
        ul.appendChild(p.is_friend ? li(`${p.name} (#${p.id}), level ${p.level}: already your friend`)
          : li(`${p.name} (#${p.id}), level ${p.level}`, button("Add friend", "friends-note", async () => {
            const a = await api("POST", "/api/friends/requests", { player_id: p.id });
            fresh("friends-note", a.status === "friends" ? `You and ${p.name} are now friends.` : `Friend request sent to ${p.name}.`);
            ul.replaceChildren();
            await refreshAll();
          })));
      }
      empty(ul, `Nobody called "${q}" plays yet. Share your invite link!`);
    });
  });
  $("friend-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = Number($("friend-id").value.trim());
    if (!Number.isInteger(id) || id < 1) { note("friends-note", "A player id is a whole number, like 42.", "error"); return; }
    busy($("add-friend"), "friends-note", async () => {
      const r = await api("POST", "/api/friends/requests", { player_id: id });
      fresh("friends-note", r.status === "friends" ? "You are now friends." : "Friend request sent.");
      $("friend-id").value = "";
      await refreshAll();
    }, { not_found: `There is no player with id ${id}.`, invalid_request: "A player id is a whole number, like 42." });
  });
  $("fb-import").addEventListener("click", () => busy($("fb-import"), "friends-note", async () => {
    const auth = await facebookAuth();
    const r = await api("POST", "/api/friends/facebook-import", { access_token: auth.accessToken }, { withStatus: true });
    // 202: a worker reads the friend list (with a job queue); 200: done in the request
    const done = r.status === 202
      ? await followJob(r.data, "friends-note", "Looking for your Facebook friends…", MESSAGES.import_slow)
      : { added: r.data.added.length };
    if (!done) return;
    fresh("friends-note", done.added ? `Added ${done.added} Facebook friend${done.added > 1 ? "s" : ""}.` : "None of your Facebook friends plays yet.");
    await refreshAll();
  }, { queue_unavailable: "Your Facebook friends cannot be looked up right now. Please try again in a minute." }));

  $("avatar-file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    if (!f) return;
    const label = document.querySelector("label[for=avatar-file]");
    label.setAttribute("aria-busy", "true");
    uploadAvatar(f)
      .catch((err) => note("avatar-note", sentence(err, { invalid_request: MESSAGES.invalid_upload }), "error"))
      .finally(() => { label.removeAttribute("aria-busy"); e.target.value = ""; });
  });
  $("make-recovery").addEventListener("click", () => makeRecoveryCode($("make-recovery"), "account-note", "recovery-code", "recovery-box"));
  $("save-prompt-code").addEventListener("click", async () => {
    await makeRecoveryCode($("save-prompt-code"), "account-note", "recovery-code", "recovery-box");
    if (!$("recovery-box").hidden) $("recovery-code").focus();
  });
  $("save-prompt-later").addEventListener("click", () => {
    localStorage.setItem(LATER_KEY, String(Date.now()));
    $("save-prompt").hidden = true;
    $("act").focus();
  });
  $("copy-recovery").addEventListener("click", () => copy("recovery-code", "account-note", "recovery code"));
  $("fb-link").addEventListener("click", () => busy($("fb-link"), "account-note", async () => {
    const auth = await facebookAuth();
    linked(await api("POST", "/api/me/facebook", { signed_request: auth.signedRequest }));
    fresh("account-note", "Facebook linked: sign in with Facebook on any device.");
  }));
  $("fb-signin").addEventListener("click", () => busy($("fb-signin"), "signin-note", async () => {
    const auth = await facebookAuth();
    await signedIn(await api("POST", "/api/auth/facebook", { signed_request: auth.signedRequest }));
  }));

  const lb = (id, fn) => $(id).addEventListener("click", () => busy($(id), null, async () => {
    fn();
    await refreshLeaderboard();
  }));
  lb("lb-friends", () => { lbScope = "friends"; lbOffset = 0; });
  lb("lb-global", () => { lbScope = "global"; lbOffset = 0; });
  lb("lb-next", () => { if (lbNext !== null) lbOffset = lbNext; });
  lb("lb-prev", () => { lbOffset = Math.max(0, lbOffset - 10); });
  document.querySelector("[role=tablist]").addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    const other = document.activeElement === $("lb-friends") ? $("lb-global") : $("lb-friends");
    other.focus();
    other.click();
  });

  // live: everything refreshes together on a timer (started once the config is read), when
  // the tab comes back, on focus
  document.addEventListener("visibilitychange", () => { if (!document.hidden) guardedRefresh(); });
  window.addEventListener("focus", guardedRefresh);
  setInterval(tick, 1000);
}

async function start() {
  wire();
  const invite = inviteFromUrl();
  try { config = await api("GET", "/api/config"); } catch (e) { config = {}; }
  if (config.refresh_seconds > 0) refreshMs = config.refresh_seconds * 1000;
  if (config.refresh_live_seconds > 0) liveRefreshMs = config.refresh_live_seconds * 1000;
  setInterval(() => { if (!document.hidden && Date.now() - refreshedAt >= pollMs()) guardedRefresh(); }, 250);
  if (config.facebook_app_id) loadFacebook();
  if (token) {
    showGame(true);
    startLive();
    try {
      await refreshAll();
      await acceptPendingInvite();
      await loadInvite();
    } catch (e) {
      if (token) say(sentence(e), true);
    }
  } else {
    showGame(false);
    if (invite) await greetInvitee(invite);
  }
}

start();
