// The rater's page script, passed to Gradio as the page's `js` (run once on load). It talks
// to the arena's JSON API (docs/http-api.md): `api/start` on load, `api/vote` per vote, and
// writes each answer into the page. Every failure is shown in #arena-message and leaves the
// keys working; a retry re-sends the same request, which the server answers idempotently.
// Decision times run from the moment both images of the trial have loaded (or, if an image
// fails, from the moment the trial arrived) to the vote.
() => {
  if (window.arena) return;
  const A = {
    study: null, rater: null, secret: null, token: null, question: null, preview: false,
    consent: false,
    arrivedAt: performance.now(), shownAt: null, pending: false, retry: null,
  };
  const $ = (id) => document.getElementById(id);
  const params = Object.fromEntries(new URLSearchParams(window.location.search));
  const OFFLINE = "The server cannot be reached. Check your connection, then try again; nothing you answered is lost.";

  // The browser's secret for a rater id (see docs/writing-a-study.md, "Raters").
  const secretKey = (rater) => `arena:${A.study}:${rater}`;
  const loadSecret = (rater) => {
    try { return rater ? window.localStorage.getItem(secretKey(rater)) : null; } catch { return null; }
  };
  const saveSecret = (rater, secret) => {
    try { window.localStorage.setItem(secretKey(rater), secret); } catch { /* private mode */ }
  };

  const say = (message, retry) => {
    const box = $("arena-message");
    box.replaceChildren();
    box.hidden = !message;
    if (!message) return;
    const p = document.createElement("p");
    p.textContent = message;
    box.append(p);
    if (retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.id = "arena-retry";
      again.textContent = "Try again";
      again.addEventListener("click", () => retry());
      box.append(again);
    }
    box.scrollIntoView({ block: "nearest" });
  };

  const busy = (on) => {
    A.pending = on;
    document.querySelectorAll("#arena-buttons button").forEach((b) => { b.disabled = on; });
  };

  // MTurk's external-submit form, only ever posted to MTurk itself.
  const MTURK = /^https:\/\/(www|workersandbox)\.mturk\.com\/?$/;
  const finish = (done) => {
    if (!done) return;
    const copy = $("arena-copy");
    if (copy) {
      copy.addEventListener("click", () => {
        const code = document.querySelector("#arena-trial .arena-code").textContent;
        const ok = () => { copy.textContent = "Copied"; };
        if (navigator.clipboard) navigator.clipboard.writeText(code).then(ok, () => {});
        const range = document.createRange(); // selected too, for a manual copy
        range.selectNodeContents(document.querySelector("#arena-trial .arena-code"));
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
      });
    }
    if (done.redirect && done.url) {
      window.location.assign(done.url);
    } else if (done.mturk && params.assignmentId && MTURK.test(params.turkSubmitTo || "")) {
      const form = document.createElement("form");
      form.method = "POST";
      form.action = params.turkSubmitTo.replace(/\/$/, "") + "/mturk/externalSubmit";
      for (const [name, value] of [["assignmentId", params.assignmentId], ["code", done.code || "done"]]) {
        const input = document.createElement("input");
        input.type = "hidden"; input.name = name; input.value = value;
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    }
  };

  const render = (data) => {
    A.rater = data.rater;
    $("arena-trial").innerHTML = data.html; // built and escaped by the server (app_page.py)
    $("arena-progress").textContent = `${data.answered} / ${data.total}`;
    // A new question is marked: raters skim, and the question changes between trials.
    const question = data.trial ? data.trial.question : null;
    const box = document.querySelector("#arena-trial .arena-question");
    if (box && A.question && question !== A.question) box.classList.add("arena-changed");
    A.question = question || A.question;
    finish(data.done && data.completion);
    const token = data.trial ? data.trial.token : "";
    if (token === A.token) return;
    A.token = token;
    A.arrivedAt = performance.now();
    A.shownAt = null;
    const imgs = [...document.querySelectorAll("#arena-trial img")];
    const loaded = imgs.map((img) =>
      img.complete
        ? Promise.resolve()
        : new Promise((done) => {
            img.addEventListener("load", done, { once: true });
            img.addEventListener("error", done, { once: true });
          })
    );
    Promise.all(loaded).then(() => {
      if (A.token === token) A.shownAt = performance.now();
    });
  };

  // One call to the API. Resolves to the answer's JSON, or shows why there is none.
  const call = async (name, body, again) => {
    busy(true);
    try {
      let response;
      try {
        response = await fetch(new URL(`api/${name}`, window.location.href), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
      } catch {
        say(OFFLINE, again);
        return null;
      }
      let data = null;
      try { data = await response.json(); } catch { /* not JSON: a proxy's error page */ }
      if (response.ok && data && !data.error) {
        say("");
        return data;
      }
      const error = (data && data.error) || {
        message: `The server answered with an error (HTTP ${response.status}); please try again.`,
        retry: true,
      };
      say(error.message, error.retry ? again : null);
      return null;
    } finally {
      busy(false);
    }
  };

  // MTurk's preview (before a worker accepts the HIT): instructions and an example, no writes.
  const preview = async () => {
    const data = await call("example", {}, preview);
    if (!data) return;
    $("arena-trial").innerHTML = data.html;
    const note = document.createElement("p");
    note.className = "arena-preview";
    note.textContent = "This is a preview. Accept the HIT to start; nothing is recorded until then.";
    $("arena-trial").prepend(note);
  };

  // Consent (where the study asks for it) comes before anything is stored about a new rater.
  const DECLINED = "You did not agree, so the study ends here. Nothing about you was stored; you can close this page (on Prolific, please return the study).";
  const askConsent = async () => {
    const box = $("arena-consent");
    box.hidden = false;
    $("arena-trial").replaceChildren();
    $("arena-agree").addEventListener("click", () => {
      box.hidden = true;
      A.consent = true;
      start();
    }, { once: true });
    $("arena-decline").addEventListener("click", async () => {
      const data = await call("decline", {}, null);
      if (!data) return;
      box.hidden = true;
      const p = document.createElement("p");
      p.className = "arena-declined";
      p.textContent = DECLINED;
      $("arena-trial").replaceChildren(p);
    }, { once: true });
    const example = await call("example", {}, null);
    if (example && example.html) {
      $("arena-example").innerHTML = "<p>An example of what you will see:</p>" + example.html;
    }
  };

  const start = async () => {
    const id = params.PROLIFIC_PID || params.workerId || params.rater || "";
    const secret = loadSecret(id);
    if ($("arena-consent") && !secret && !A.consent) return askConsent();
    const data = await call("start", { params, secret, consent: A.consent }, start);
    if (!data) {
      $("arena-trial").replaceChildren(); // not "Loading…" forever: the message says why
      return;
    }
    saveSecret(data.rater, data.secret);
    A.secret = data.secret;
    // A generated id goes into the address bar, so that a refresh resumes the session.
    if (!params.rater && !params.PROLIFIC_PID && !params.workerId) {
      const url = new URL(window.location.href);
      url.searchParams.set("rater", data.rater);
      history.replaceState(null, "", url.toString());
      params.rater = data.rater;
    }
    render(data);
  };

  A.vote = async (choice) => {
    if (A.pending || !A.token) return;
    const body = {
      rater: A.rater, secret: A.secret, token: A.token, choice,
      decision_ms: Math.max(0, Math.round(performance.now() - (A.shownAt ?? A.arrivedAt))),
    };
    // A retry sends the same vote (same token, same time): stored once whatever happened.
    const send = async () => {
      const data = await call("vote", body, send);
      if (data) render(data);
    };
    await send();
  };

  // The buttons, and the images themselves (a click or a tap on one chooses it).
  document.addEventListener("click", (e) => {
    const target = e.target.closest && e.target.closest(
      "#arena-buttons button[data-choice], #arena-trial button.arena-pick[data-choice]"
    );
    if (target && target.closest("#arena-example")) return; // the consent screen's example
    if (target && !target.disabled && !A.preview) A.vote(target.dataset.choice);
  });

  // The keys of the responses the study offers (arena/choices.py), sent with the page in
  // #arena-controls' data-keys; read by begin().
  let KEYS = {};
  document.addEventListener("keydown", (e) => {
    if (e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const choice = Object.hasOwn(KEYS, e.key) ? KEYS[e.key] : null;
    // No keyboard votes while one is in flight or before the images are on screen.
    if (!choice || A.pending || !A.token || A.shownAt === null) return;
    if (!document.querySelector(`#arena-buttons button[data-choice="${choice}"]`)) return;
    e.preventDefault();
    A.vote(choice);
  });

  // Gradio mounts the components after this script runs: start once they are there.
  const began = performance.now();
  const begin = () => {
    const root = $("arena-controls");
    if (!root) {
      if (performance.now() - began < 30000) setTimeout(begin, 30);
      return;
    }
    A.study = root.dataset.study;
    try { KEYS = JSON.parse(root.dataset.keys || "{}"); } catch { KEYS = {}; }
    A.preview = params.assignmentId === "ASSIGNMENT_ID_NOT_AVAILABLE";
    if (A.preview) preview(); else start();
  };
  window.arena = A;
  begin();
}
