// Coin Quest: the game page. Talks only to /api/... and /media/... (same origin), so
// the same files work behind the CDN and from the local server.
"use strict";

const $ = (id) => document.getElementById(id);
let token = localStorage.getItem("token");
let me = null;
let lbScope = "friends";
let lbOffset = 0;
let lbNext = null;
let config = {};

function say(text, isError = false) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

function newKey() {
  return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
}

// One API call. Writes carry an Idempotency-Key and are retried once on a network error
// with the same key, so a retry never applies twice.
async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["Idempotency-Key"] = newKey();
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    res = await fetch(path, init);
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && token && path !== "/api/auth/guest") { signOut(); }
  if (!res.ok) {
    const err = new Error((data && data.detail) || ("request failed: " + res.status));
    err.status = res.status;
    throw err;
  }
  return data;
}

async function guarded(fn) {
  try { await fn(); } catch (e) { say(e.message, true); }
}

function empty(list, text) {
  if (!list.children.length) {
    const el = document.createElement("li");
    el.className = "muted empty";
    el.textContent = text;
    list.appendChild(el);
  }
}

function li(text, ...buttons) {
  const el = document.createElement("li");
  const span = document.createElement("span");
  span.textContent = text + " ";
  el.appendChild(span);
  for (const b of buttons) el.appendChild(b);
  return el;
}

function button(label, onClick, disabled = false) {
  const b = document.createElement("button");
  b.textContent = label;
  b.disabled = disabled;
  b.addEventListener("click", () => guarded(onClick));
  return b;
}

function renderState(s) {
  me = s;
  $("player-name").textContent = s.name;
  $("player-id").textContent = s.id;
  $("level").textContent = s.level;
  $("xp").textContent = s.xp;
  $("xp-bar").max = s.xp_per_level;
  $("xp-bar").value = s.xp % s.xp_per_level;
  $("coins").textContent = s.coins;
  $("energy").textContent = s.energy;
  $("energy-cap").textContent = s.energy_cap;
  $("refill").textContent = s.next_energy_in_seconds ? `(+1 in ${s.next_energy_in_seconds}s)` : "";
  if (s.avatar_url) $("avatar").src = s.avatar_url;
  if (s.daily_reward_available !== undefined) $("daily").disabled = !s.daily_reward_available;
  if (s.gifts_waiting !== undefined) $("gifts-waiting").textContent = s.gifts_waiting || "";
  $("fb-link").hidden = !config.facebook_app_id || s.facebook_linked;
}

async function refreshState() { renderState(await api("GET", "/api/me")); }

async function refreshFriends() {
  const f = await api("GET", "/api/friends");
  const req = $("requests");
  req.replaceChildren();
  for (const r of f.incoming_requests) {
    req.appendChild(li(`${r.player.name} (#${r.player.id}) wants to be friends`,
      button("Accept", async () => { await api("POST", `/api/friends/requests/${r.request_id}/accept`); say(`You and ${r.player.name} are friends`); await refreshAll(); }),
      button("Decline", async () => { await api("DELETE", `/api/friends/requests/${r.request_id}`); await refreshFriends(); })));
  }
  for (const r of f.outgoing_requests) {
    req.appendChild(li(`Waiting for ${r.player.name} (#${r.player.id})`,
      button("Cancel", async () => { await api("DELETE", `/api/friends/requests/${r.request_id}`); await refreshFriends(); })));
  }
  empty(req, "No friend requests");
  const list = $("friends");
  list.replaceChildren();
  for (const fr of f.friends) {
    list.appendChild(li(`${fr.name} (#${fr.id}), level ${fr.level}`,
      button(fr.gift_sent_today ? "Gift sent" : "Send gift", async () => {
        await api("POST", "/api/gifts", { to_player_id: fr.id }); say(`Gift sent to ${fr.name}`); await refreshFriends();
      }, fr.gift_sent_today),
      button("Remove", async () => { await api("DELETE", `/api/friends/${fr.id}`); await refreshAll(); })));
  }
  empty(list, "No friends yet: add one by player id");
}

async function refreshInbox() {
  const inbox = await api("GET", "/api/gifts");
  const ul = $("inbox");
  ul.replaceChildren();
  for (const g of inbox.items) {
    ul.appendChild(li(`${g.coins} coins from ${g.from.name}`,
      button(g.claimed ? "Claimed" : "Claim", async () => {
        const r = await api("POST", `/api/gifts/${g.id}/claim`);
        say(`+${r.coins_earned} coins`);
        await Promise.all([refreshState(), refreshInbox()]);
      }, g.claimed)));
  }
  empty(ul, "No gifts yet");
}

async function refreshLeaderboard() {
  const lb = await api("GET", `/api/leaderboard?scope=${lbScope}&limit=10&offset=${lbOffset}`);
  const ol = $("leaderboard");
  ol.replaceChildren();
  ol.start = lbOffset + 1;
  for (const p of lb.items) {
    const el = li(`${p.name} (level ${p.level}, ${p.xp} XP)`);
    if (me && p.id === me.id) el.classList.add("me");
    ol.appendChild(el);
  }
  lbNext = lb.next_offset;
  $("lb-next").disabled = lbNext === null;
  $("lb-prev").disabled = lbOffset === 0;
  $("lb-friends").classList.toggle("active", lbScope === "friends");
  $("lb-global").classList.toggle("active", lbScope === "global");
}

async function refreshAll() {
  await refreshState();
  await Promise.all([refreshFriends(), refreshInbox(), refreshLeaderboard()]);
}

function showGame(on) {
  $("signin").hidden = on;
  $("game").hidden = !on;
  $("sign-out").hidden = !on;
}

function signOut() {
  token = null;
  localStorage.removeItem("token");
  showGame(false);
}

async function signedIn(res) {
  token = res.token;
  localStorage.setItem("token", token);
  showGame(true);
  say(`Welcome, ${res.player.name}!`);
  await refreshAll();
}

async function uploadAvatar(file) {
  const type = file.type;
  const post = await api("POST", "/api/me/avatar/upload-url", { content_type: type });
  if (file.size > post.max_bytes) throw new Error(`the image must be at most ${post.max_bytes} bytes`);
  const form = new FormData();
  for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
  form.append("file", file);
  const up = await fetch(post.url, { method: "POST", body: form });
  if (!up.ok) throw new Error("upload failed: " + up.status);
  renderState(await api("POST", "/api/me/avatar", { key: post.key }));
  say("New avatar saved");
}

// Facebook JS SDK, loaded only when the server has a Facebook app configured.
function loadFacebook() {
  return new Promise((resolve) => {
    window.fbAsyncInit = () => { FB.init({ appId: config.facebook_app_id, cookie: false, xfbml: false, version: "v21.0" }); resolve(); };
    const s = document.createElement("script");
    s.src = "https://connect.facebook.net/en_US/sdk.js";
    s.async = true;
    document.head.appendChild(s);
  });
}

function facebookLogin(path) {
  return new Promise((resolve, reject) => {
    FB.login((resp) => {
      if (!resp.authResponse) return reject(new Error("Facebook sign-in was cancelled"));
      api("POST", path, { signed_request: resp.authResponse.signedRequest }).then(resolve, reject);
    }, { scope: "public_profile,user_friends" });
  });
}

function wire() {
  $("guest-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("guest-name").value.trim();
    guarded(async () => signedIn(await api("POST", "/api/auth/guest", name ? { name } : undefined)));
  });
  $("sign-out").addEventListener("click", signOut);
  $("act").addEventListener("click", () => guarded(async () => {
    const r = await api("POST", "/api/actions");
    renderState({ ...me, ...r.player });
    say(`+${r.coins_earned} coins, +${r.xp_earned} XP`);
    await refreshLeaderboard();
  }));
  $("daily").addEventListener("click", () => guarded(async () => {
    const r = await api("POST", "/api/daily-reward");
    say(`Daily reward: +${r.coins_earned} coins`);
    await refreshState();
  }));
  $("buy-energy").addEventListener("click", () => guarded(async () => {
    const r = await api("POST", "/api/shop/energy");
    renderState({ ...me, ...r.player });
    say(`+${r.energy_added} energy`);
  }));
  $("friend-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guarded(async () => {
      const id = parseInt($("friend-id").value, 10);
      if (!(id > 0)) throw new Error("enter a player id");
      const r = await api("POST", "/api/friends/requests", { player_id: id });
      say(r.status === "friends" ? "You are now friends" : "Friend request sent");
      $("friend-id").value = "";
      await refreshAll();
    });
  });
  $("avatar-file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    if (f) guarded(() => uploadAvatar(f));
  });
  $("lb-friends").addEventListener("click", () => guarded(async () => { lbScope = "friends"; lbOffset = 0; await refreshLeaderboard(); }));
  $("lb-global").addEventListener("click", () => guarded(async () => { lbScope = "global"; lbOffset = 0; await refreshLeaderboard(); }));
  $("lb-next").addEventListener("click", () => guarded(async () => { if (lbNext !== null) { lbOffset = lbNext; await refreshLeaderboard(); } }));
  $("lb-prev").addEventListener("click", () => guarded(async () => { lbOffset = Math.max(0, lbOffset - 10); await refreshLeaderboard(); }));
  $("fb-signin").addEventListener("click", () => guarded(async () => signedIn(await facebookLogin("/api/auth/facebook"))));
  $("fb-link").addEventListener("click", () => guarded(async () => { renderState(await facebookLogin("/api/me/facebook")); say("Facebook linked"); }));
}

async function start() {
  wire();
  try { config = await api("GET", "/api/config"); } catch (e) { config = {}; }
  if (config.facebook_app_id) { $("fb-signin").hidden = false; loadFacebook(); }
  if (token) {
    showGame(true);
    await guarded(refreshAll);
  } else {
    showGame(false);
  }
  // energy refills over time: refresh the state now and then
  setInterval(() => { if (token && !document.hidden) guarded(refreshState); }, 30000);
}

start();
