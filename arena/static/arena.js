// Page-side helpers of the arena, passed to Gradio as the page's `js` (run once on load).
// Votes carry the decision time measured here: from the moment both images of the trial
// have loaded (or, if an image fails, from the moment the trial arrived) to the click.
() => {
  if (window.arena) return;
  const A = { token: null, arrivedAt: performance.now(), shownAt: null, pending: null };

  // Called by each response button before its request: returns the vote endpoint's inputs.
  A.vote = (choice, rater, token) => {
    const start = A.shownAt ?? A.arrivedAt;
    A.pending = token;
    return [rater, token, choice, Math.max(0, Math.round(performance.now() - start))];
  };

  // Called after every response (success or error): a new token means a new trial on screen.
  A.shown = (token) => {
    A.pending = null;
    if (token === A.token) return [];
    A.token = token;
    A.arrivedAt = performance.now();
    A.shownAt = null;
    requestAnimationFrame(() => {
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
    });
    return [];
  };

  // Keeps a generated rater id in the address bar, so that a refresh resumes the session.
  A.remember = (rater, token) => {
    const url = new URL(window.location.href);
    const p = url.searchParams;
    if (rater && !p.get("rater") && !p.get("PROLIFIC_PID") && !p.get("workerId")) {
      p.set("rater", rater);
      history.replaceState(null, "", url.toString());
    }
    return A.shown(token);
  };

  const KEYS = { 1: "arena-left", ArrowLeft: "arena-left", 2: "arena-right", ArrowRight: "arena-right" };
  document.addEventListener("keydown", (e) => {
    if (e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const id = KEYS[e.key];
    // No keyboard votes while one is in flight or before the images are on screen.
    if (!id || A.pending !== null || !A.token || A.shownAt === null) return;
    const el = document.getElementById(id);
    const btn = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
    if (!btn || btn.disabled || btn.offsetParent === null) return;
    e.preventDefault();
    btn.click();
  });
  window.arena = A;
}
