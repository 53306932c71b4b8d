// The live page's script (arena/live/page.py inlines it). It sends the rater's prompt to
// api/live/prompt, long-polls api/live/poll until both images are there — each is shown as soon as
// it arrives, so the fast model's image appears while the slow one is still drawing — and sends
// the vote to api/live/vote, whose answer names the two models. The prompt is only ever
// written as text (textContent), never as HTML.
(() => {
  const root = document.getElementById("live");
  const $ = (id) => document.getElementById(id);
  const MAX = Number(root.dataset.max);
  let KEYS = {};
  try { KEYS = JSON.parse(root.dataset.keys || "{}"); } catch { KEYS = {}; }
  const S = { token: null, shownAt: null, pending: false, voted: false };
  window.live = S;
  const OFFLINE = "The server cannot be reached. Check your connection, then try again.";

  const params = new URLSearchParams(window.location.search);
  const newId = () => "r-" + [...crypto.getRandomValues(new Uint8Array(8))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  let rater = params.get("rater");
  if (!rater) {
    try { rater = localStorage.getItem("arena-live-rater"); } catch { rater = null; }
    if (!rater) rater = newId();
    try { localStorage.setItem("arena-live-rater", rater); } catch { /* private mode */ }
  }

  const say = (message) => {
    const box = $("live-message");
    box.textContent = message || "";
    box.hidden = !message;
  };
  const choices = () => document.querySelectorAll("#live-buttons button, .live-pick");
  const enable = (on) => choices().forEach((b) => { b.disabled = !on; });

  const post = async (name, body) => {
    let response;
    try {
      response = await fetch(new URL(`api/live/${name}`, window.location.href), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch {
      say(OFFLINE);
      return null;
    }
    let data = null;
    try { data = await response.json(); } catch { /* a proxy's error page */ }
    if (response.ok && data && !data.error) return data;
    say((data && data.error && data.error.message) ||
      `The server answered with an error (HTTP ${response.status}); please try again.`);
    return null;
  };

  const reset = () => {
    for (const side of ["left", "right"]) {
      const fig = $(`live-${side}`);
      const wait = document.createElement("div");
      wait.className = "live-wait live-drawing";
      wait.textContent = `${side === "left" ? "Left" : "Right"}: drawing…`;
      fig.querySelector(".live-pick").replaceChildren(wait);
      fig.querySelector(".live-model").textContent = "";
      fig.classList.remove("live-chosen");
    }
    enable(false);
  };

  const place = (side, image) => {
    const pick = $(`live-${side}`).querySelector(".live-pick");
    if (pick.querySelector("img")) return Promise.resolve();
    const img = document.createElement("img");
    img.alt = `${side === "left" ? "Left" : "Right"} image (${image.width}×${image.height})`;
    img.width = image.width; img.height = image.height;
    img.draggable = false;
    if (image.width < 256) img.classList.add("live-pixelated");
    const loaded = new Promise((done) => {
      img.addEventListener("load", done, { once: true });
      img.addEventListener("error", done, { once: true });
    });
    img.src = image.url;
    pick.replaceChildren(img);
    return loaded;
  };

  const show = async (data) => {
    if (data.token !== S.token) return;
    const waits = [];
    for (const side of ["left", "right"]) {
      if (data.images[side]) waits.push(place(side, data.images[side]));
    }
    if (data.failed) { say(data.failed); return; }
    if (data.images.left && data.images.right) {
      await Promise.all(waits);
      if (data.token === S.token && !S.voted) {
        S.shownAt = performance.now();
        enable(true);
        // Both answers are up: the keys vote now (they type while the prompt box has focus).
        if (document.activeElement === $("live-prompt")) $("live-prompt").blur();
      }
    }
  };

  // Long polls: each waits on the server until one more image is there (or 2 s pass), so an
  // image shows the moment it is drawn; a newer prompt (S.token) ends the old battle's loop.
  const settled = (data) => ["left", "right"].filter((s) => data.images[s]).length +
    (data.failed ? 1 : 0);
  const follow = async (data) => {
    const token = data.token;
    while (S.token === token && !data.done && !data.failed) {
      const next = await post("poll", { token, seen: settled(data), wait_ms: 2000 });
      if (!next || S.token !== token) return;
      data = next;
      show(data);
    }
  };

  $("live-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (S.pending) return;
    const text = $("live-prompt").value.trim();
    if (!text) return say("Type a prompt first; the box is empty.");
    if (text.length > MAX) return say(`The prompt is ${text.length} characters long; the most is ${MAX}.`);
    S.pending = true;
    $("live-go").disabled = true;
    try {
      const data = await post("prompt", { prompt: text, rater });
      if (!data) return;
      say("");
      S.token = data.token; S.shownAt = null; S.voted = false;
      const shown = $("live-shown");
      shown.textContent = `“${text}”`;
      shown.hidden = false;
      reset();
      show(data);
      follow(data);
    } finally {
      S.pending = false;
      $("live-go").disabled = false;
    }
  });

  const vote = async (choice) => {
    if (!S.token || S.shownAt === null || S.voted || S.pending) return;
    S.pending = true;
    enable(false);
    const body = { token: S.token, choice, decision_ms: Math.round(performance.now() - S.shownAt) };
    const data = await post("vote", body);
    S.pending = false;
    if (!data) { enable(true); return; }
    S.voted = true;
    for (const side of ["left", "right"]) {
      $(`live-${side}`).querySelector(".live-model").textContent = ` · ${data.models[side]}`;
      if (choice === side) $(`live-${side}`).classList.add("live-chosen");
    }
    say("");
    $("live-prompt").focus();
  };

  document.addEventListener("click", (e) => {
    const target = e.target.closest && e.target.closest("#live-buttons button, .live-pick");
    if (target && !target.disabled) vote(target.dataset.choice);
  });
  document.addEventListener("keydown", (e) => {
    if (e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && ["INPUT", "TEXTAREA"].includes(t.tagName)) return; // typing a prompt, not voting
    if (!Object.hasOwn(KEYS, e.key)) return;
    e.preventDefault();
    vote(KEYS[e.key]);
  });
})();
