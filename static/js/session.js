// The idle sign-out, seen from an open page.
//
// The server decides when a session ends (artera/sessions.py): this page asks it, GET
// /inbox/session/ (which does not count as activity), how many seconds are left, and so learns
// that its user was active in another tab or in the admin. Shortly before the end it shows a
// dialog with "Stay signed in" (a real POST, which extends the session); typing or clicking on
// the page extends it too, at most about once a minute. When the server says the session is
// over, the page goes to the sign-in form with ?next= this page, and says whether an unsent
// reply or note was discarded: drafts are kept only in the page, never in browser storage.
//
// On the sign-in page (data-clear-storage) it empties this site's browser storage, so nothing a
// signed-in page might have left there survives a sign-out. Loaded as a file: the CSP allows no
// inline script.
(function () {
  "use strict";

  function clearStorage() {
    try { window.localStorage.clear(); } catch (e) { /* storage disabled */ }
    try { window.sessionStorage.clear(); } catch (e) { /* storage disabled */ }
    if (window.indexedDB && window.indexedDB.databases) {
      window.indexedDB.databases().then(function (dbs) {
        dbs.forEach(function (db) { if (db.name) { window.indexedDB.deleteDatabase(db.name); } });
      }).catch(function () {});
    }
    if (window.caches) {
      window.caches.keys().then(function (keys) {
        keys.forEach(function (key) { window.caches.delete(key); });
      }).catch(function () {});
    }
  }

  function start() {
    if (document.body.hasAttribute("data-clear-storage")) {
      clearStorage();
    }
    var box = document.getElementById("session-warning");
    if (!box || typeof box.showModal !== "function") {
      return;
    }
    var statusUrl = box.dataset.statusUrl;
    var loginUrl = box.dataset.loginUrl;
    var form = box.querySelector("form");
    var countdown = document.getElementById("session-warning-countdown");
    var idleText = document.getElementById("session-warning-idle");
    var draftNote = document.getElementById("session-warning-draft");

    var deadline = 0; // Date.now() at which the server says the session ends
    var warnMs = 120000;
    var idleMs = 900000;
    var lastTouch = Date.now(); // the page's own load was a request that counted
    var timer = null;
    var ticker = null;
    var extending = false;
    var ended = false;
    var returnFocus = null;

    function hasDraft() {
      return ["composer-body", "note-body"].some(function (id) {
        var el = document.getElementById(id);
        return el && el.value.trim() !== "";
      });
    }

    function schedule(ms) {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, Math.max(250, ms));
    }

    function formatLeft(ms) {
      var s = Math.max(0, Math.ceil(ms / 1000));
      var m = Math.floor(s / 60);
      s = s % 60;
      return m + ":" + (s < 10 ? "0" : "") + s;
    }

    function minutes(ms) {
      var m = Math.round(ms / 60000);
      if (m >= 1) {
        return m + " minute" + (m === 1 ? "" : "s");
      }
      var s = Math.round(ms / 1000);
      return s + " second" + (s === 1 ? "" : "s");
    }

    function renderCountdown() {
      countdown.textContent = formatLeft(deadline - Date.now());
      draftNote.hidden = !hasDraft();
    }

    function show() {
      renderCountdown();
      if (!box.open) {
        returnFocus = document.activeElement;
        box.showModal();
        box.querySelector("button").focus();
        ticker = window.setInterval(renderCountdown, 1000);
      }
    }

    function hide() {
      if (box.open) {
        box.close();
        window.clearInterval(ticker);
        if (returnFocus && returnFocus.focus && document.contains(returnFocus)) {
          returnFocus.focus();
        }
      }
    }

    function signedOut() {
      if (ended) {
        return;
      }
      ended = true;
      window.clearTimeout(timer);
      window.clearInterval(ticker);
      var here = window.location.pathname + window.location.search;
      var target = loginUrl + "?next=" + encodeURIComponent(here) + "&idle=1" +
        (hasDraft() ? "&unsent=1" : "");
      // replace(): Back must not lead to a page of patient information (it is not cached
      // either, so it would only bounce to the sign-in form).
      window.location.replace(target);
    }

    // The server's answer, from either request: when to look again, and whether to warn.
    function apply(data) {
      if (!data.signed_in) {
        signedOut();
        return;
      }
      var now = Date.now();
      warnMs = data.warn_seconds * 1000;
      idleMs = data.idle_seconds * 1000;
      idleText.textContent = minutes(idleMs);
      deadline = now + data.seconds_left * 1000;
      var untilWarn = deadline - warnMs - now;
      if (untilWarn > 0) {
        hide();
        schedule(untilWarn);
        return;
      }
      show();
      // While warning, ask often (activity in another tab ends the warning), and once more
      // right after the end.
      var poll = Math.min(10000, Math.max(1000, warnMs / 4));
      schedule(Math.min(poll, deadline - now + 500));
    }

    function request(method) {
      var options = {
        method: method,
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Accept": "application/json" }
      };
      if (method === "POST") {
        options.body = new FormData(form);
      }
      return window.fetch(statusUrl, options).then(function (response) {
        if (response.status === 401 || response.status === 200) {
          return response.json();
        }
        throw new Error("session status " + response.status);
      });
    }

    function check() {
      if (ended) {
        return;
      }
      request("GET").then(apply).catch(function () {
        // The server is unreachable: keep the page (and any draft) and try again.
        schedule(5000);
      });
    }

    function extend() {
      if (ended || extending) {
        return;
      }
      extending = true;
      request("POST").then(function (data) {
        extending = false;
        if (data.signed_in) {
          lastTouch = Date.now();
        }
        apply(data);
      }).catch(function () {
        extending = false;
        schedule(5000);
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      extend();
    });
    // Escape means someone is there: the same as "Stay signed in".
    box.addEventListener("cancel", function (event) {
      event.preventDefault();
      extend();
    });

    // Typing and clicking are activity even when they send nothing (a long reply being
    // written): extend the session, at most once per a fifteenth of the idle time.
    function interacted() {
      if (!ended && !box.open && Date.now() - lastTouch > Math.min(60000, idleMs / 15)) {
        lastTouch = Date.now();
        extend();
      }
    }
    document.addEventListener("keydown", interacted, true);
    document.addEventListener("pointerdown", interacted, true);

    // A poll that finds the session over would send htmx to the sign-in form on its own
    // (HX-Redirect); go there this page's way instead, so a discarded draft is said.
    document.body.addEventListener("htmx:beforeOnLoad", function (event) {
      var xhr = event.detail.xhr;
      var redirect = xhr && xhr.getResponseHeader("HX-Redirect");
      if (redirect && redirect.indexOf(loginUrl) !== -1) {
        event.preventDefault();
        signedOut();
      }
    });

    check();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
