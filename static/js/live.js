// The inbox's live push, browser side (server side: inbox/consumers.py and inbox/push.py).
//
// One WebSocket per tab to /ws/inbox/. An event is a nudge naming a conversation; the page then
// fetches the piece that changed through the usual htmx endpoints (the list, the thread, who is
// viewing), so nothing about a patient travels over the socket. While the socket is open the
// pages' 3-second polls are skipped (one catch-up poll every 30 s stays); when it drops, the polls
// run again and the socket reconnects with a growing back-off.
//
// Notifications: unread counts on the filter tabs ([data-count]), on Mentions and in the title;
// for a new text in a conversation assigned to me, a new unassigned conversation, or a mention of
// me, an optional sound and an optional browser notification (the user's toggles, kept in this
// browser; the browser asks for permission once). "… is typing" for the open conversation.
(function () {
  "use strict";

  var body = document.body;
  if (!body || body.dataset.liveCounts === undefined) {
    return; // signed out
  }
  // No socket path: this page is served without the ASGI server, so it polls (counts too).
  var socketPath = window.WebSocket ? body.dataset.liveSocket : "";
  var countsUrl = body.dataset.liveCounts;
  var myId = Number(body.dataset.userId);
  var CHANNEL_RE = /\/channels\/([0-9a-f-]{36})\//;
  var CATCH_UP_MS = 30000;
  var PREFS_KEY = "artera-live-prefs";

  var socket = null;
  var live = false;
  var retryMs = 1000;
  var pingTimer = null;
  var pongDeadline = null;
  var baseTitle = document.title; // as the server rendered it, without a count
  var lastPoll = new WeakMap();
  var loadedAt = Date.now();

  function setLive(on) {
    live = on;
    document.documentElement.dataset.live = on ? "on" : "off";
  }

  // --- The socket ---------------------------------------------------------------------------

  function connect() {
    if (!socketPath) {
      return;
    }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + socketPath);
    } catch (e) {
      retry();
      return;
    }
    socket.onopen = function () {
      retryMs = 1000;
      pingTimer = setInterval(ping, 25000);
    };
    socket.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      handle(event);
    };
    socket.onclose = function (close) {
      clearInterval(pingTimer);
      clearTimeout(pongDeadline);
      setLive(false);
      socket = null;
      if (close.code === 4401) {
        return; // the session ended: session.js takes the page to the sign-in form
      }
      retry();
    };
  }

  function retry() {
    setTimeout(connect, retryMs + Math.floor(Math.random() * 500));
    retryMs = Math.min(retryMs * 2, 30000);
  }

  // A half-open connection (a laptop that slept, a proxy that forgot it) shows no error:
  // an unanswered ping closes it, and the polls take over until it is back.
  function ping() {
    send({ type: "ping" });
    clearTimeout(pongDeadline);
    pongDeadline = setTimeout(function () {
      if (socket) {
        socket.close();
      }
    }, 10000);
  }

  function send(data) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(data));
    }
  }

  // --- Events ---------------------------------------------------------------------------------

  function handle(event) {
    switch (event.type) {
      case "ready":
        setLive(true);
        refreshAll(); // whatever happened while the socket was down
        return;
      case "pong":
        clearTimeout(pongDeadline);
        return;
      case "typing":
        if (event.channel === openChannel()) {
          showTyping(event.name);
        }
        return;
      case "presence":
        if (event.channel === openChannel()) {
          refreshPresence();
        }
        return;
      case "mention":
        alertUser("You were mentioned in a note", event.channel);
        refreshCounts();
        return;
      case "message":
        if (event.assignee === myId) {
          alertUser("New text in a conversation assigned to you", event.channel);
        } else if (event.assignee === null && event.new) {
          alertUser("New conversation waiting in your queue", event.channel);
        }
        if (event.channel === openChannel()) {
          hideTyping();
        }
        changed(event.channel);
        return;
      case "status":
      case "channel":
        changed(event.channel);
        return;
    }
  }

  function changed(channelId) {
    if (channelId === openChannel()) {
      htmx.trigger(body, "thread-changed");
    }
    refreshLists();
    refreshCounts();
  }

  function refreshAll() {
    if (openChannel()) {
      htmx.trigger(body, "thread-changed");
    }
    refreshLists();
    refreshCounts();
  }

  // --- Refreshing the page's pieces -------------------------------------------------------------

  function openChannel() {
    // The open thread's live timeline (a split pane has the list's `/inbox/live/` too).
    var timeline = document.querySelector("[hx-get*='/channels/'][hx-get*='/live/']");
    var match = timeline && CHANNEL_RE.exec(timeline.getAttribute("hx-get"));
    return match ? match[1] : null;
  }

  var listTimer = null;
  var nudging = false;
  function refreshLists() {
    clearTimeout(listTimer);
    listTimer = setTimeout(function () {
      document.querySelectorAll("[hx-get*='/inbox/live/']").forEach(function (el) {
        nudging = true; // htmx:confirm runs inside this call: let it through
        try {
          htmx.ajax("GET", el.getAttribute("hx-get"), { source: el, target: el, swap: "outerHTML" });
        } finally {
          nudging = false;
        }
      });
    }, 100);
  }

  function refreshPresence() {
    var el = document.querySelector("[hx-post*='/presence/']");
    if (el) {
      htmx.ajax("POST", el.getAttribute("hx-post"), { source: el, target: el, swap: "innerHTML" });
    }
  }

  // While live, the pages' own polls wait: a poll has no triggering event (a nudge has one).
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!live || nudging || event.detail.triggeringEvent || event.detail.verb !== "get") {
      return;
    }
    if ((elt.getAttribute("hx-trigger") || "").indexOf("every") === -1) {
      return;
    }
    var now = Date.now();
    if (now - (lastPoll.get(elt) || loadedAt) < CATCH_UP_MS) {
      event.preventDefault();
    } else {
      lastPoll.set(elt, now);
    }
  });

  // --- Counts -----------------------------------------------------------------------------------

  var countsTimer = null;
  var countsPolled = 0;
  function refreshCounts() {
    if (!countsUrl) {
      return;
    }
    clearTimeout(countsTimer);
    countsTimer = setTimeout(loadCounts, 150);
  }

  function loadCounts() {
    countsPolled = Date.now();
    fetch(countsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (counts) {
        if (counts) {
          showCounts(counts);
        }
      })
      .catch(function () {});
  }

  function showCounts(counts) {
    var suffix = counts.capped ? "+" : "";
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var n = counts[el.dataset.count];
      var badge = el.querySelector(".count-badge");
      if (!n) {
        if (badge) {
          badge.remove();
        }
        return;
      }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "count-badge";
        el.appendChild(badge);
      }
      var text = n + (el.dataset.count === "mentions" ? "" : suffix);
      badge.textContent = text;
      badge.setAttribute("aria-label", text + " unread");
    });
    document.title = (counts.title ? "(" + counts.title + suffix + ") " : "") + baseTitle;
    document.documentElement.dataset.unread = String(counts.title);
  }

  // Without a socket the counts still follow, slowly.
  setInterval(function () {
    if (!live && Date.now() - countsPolled > CATCH_UP_MS) {
      loadCounts();
    }
  }, 5000);

  // --- Typing -------------------------------------------------------------------------------------

  var typingSent = 0;
  document.addEventListener("input", function (event) {
    var id = event.target && event.target.id;
    if (id !== "composer-body" && id !== "note-body") {
      return;
    }
    var channel = openChannel();
    var now = Date.now();
    if (channel && now - typingSent > 2000) {
      typingSent = now;
      send({ type: "typing", channel: channel });
    }
  });

  var typingTimer = null;
  function typingBox() {
    var box = document.getElementById("typing-indicator");
    if (!box) {
      var composer = document.getElementById("composer");
      if (!composer || !composer.parentNode) {
        return null;
      }
      box = document.createElement("p");
      box.id = "typing-indicator";
      box.className = "typing-indicator";
      box.setAttribute("role", "status");
      composer.parentNode.insertBefore(box, composer);
    }
    return box;
  }

  function showTyping(name) {
    var box = typingBox();
    if (!box) {
      return;
    }
    box.textContent = name + " is typing…";
    box.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 4000);
  }

  function hideTyping() {
    var box = document.getElementById("typing-indicator");
    if (box) {
      box.hidden = true;
      box.textContent = "";
    }
  }

  // --- Sound and browser notifications ----------------------------------------------------------

  function prefs() {
    try {
      return JSON.parse(localStorage.getItem(PREFS_KEY)) || {};
    } catch (e) {
      return {};
    }
  }

  function savePrefs(value) {
    try {
      localStorage.setItem(PREFS_KEY, JSON.stringify(value));
    } catch (e) {
      // storage disabled: the toggles last for this page only
    }
  }

  function alertUser(text, channelId) {
    var p = prefs();
    if (p.sound) {
      beep();
    }
    if (p.notify && window.Notification && Notification.permission === "granted" &&
        (document.hidden || !document.hasFocus())) {
      // No patient detail in the notification: it shows on the desktop, outside the session.
      var note = new Notification("Artera", { body: text, tag: "artera-" + channelId });
      note.onclick = function () {
        window.focus();
        location.href = "/inbox/channels/" + channelId + "/";
      };
    }
    body.dispatchEvent(
      new CustomEvent("live:alert", { bubbles: true, detail: { text: text, channel: channelId } })
    );
  }

  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.3);
    } catch (e) {
      // no audio here
    }
  }

  function initToggles() {
    var p = prefs();
    var sound = document.getElementById("alert-sound");
    var notify = document.getElementById("alert-notify");
    if (sound) {
      sound.checked = !!p.sound;
      sound.addEventListener("change", function () {
        var next = prefs();
        next.sound = sound.checked;
        savePrefs(next);
        if (sound.checked) {
          beep(); // a click is what lets the page play sound later
        }
      });
    }
    if (notify) {
      notify.checked = !!p.notify && window.Notification && Notification.permission === "granted";
      notify.disabled = !window.Notification || Notification.permission === "denied";
      notify.addEventListener("change", function () {
        var next = prefs();
        next.notify = notify.checked;
        savePrefs(next);
        if (notify.checked && Notification.permission === "default") {
          Notification.requestPermission().then(function (answer) {
            notify.checked = answer === "granted";
            notify.disabled = answer === "denied";
            var again = prefs();
            again.notify = notify.checked;
            savePrefs(again);
          });
        }
      });
    }
  }

  function init() {
    setLive(false);
    initToggles();
    loadCounts();
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
