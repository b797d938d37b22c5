// The inbox's small enhancements: pickers that insert into the composer, the composer's
// secure/plain indicator and segment counter, the "last message seen" marker the server checks
// for collisions, Ctrl+Enter to send, and keeping the thread scrolled to its newest message.
// Loaded as a file: the CSP allows no inline script.
(function () {
  "use strict";

  function composerBody() {
    return document.getElementById("composer-body");
  }

  function insertAtCursor(textarea, text) {
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    var before = textarea.value.slice(0, start), after = textarea.value.slice(end);
    textarea.value = before + text + after;
    var caret = start + text.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function updateComposer() {
    var body = composerBody();
    if (!body) {
      return;
    }
    var form = body.form;
    var mode = document.getElementById("composer-mode");
    var counter = document.getElementById("segment-counter");
    var lock = document.getElementById("composer-secure");
    var text = body.value.trim();
    var plainPrefix = text.indexOf("!!") === 0;
    var secure = form.dataset.verified === "1" && lock && lock.checked && !plainPrefix;
    if (lock) {
      lock.closest(".lock").classList.toggle("is-overridden", plainPrefix);
    }
    if (mode) {
      if (secure) {
        mode.textContent = "The patient gets a secure link to read it.";
      } else if (plainPrefix && form.dataset.verified === "1") {
        mode.textContent = "!! — sent as plain SMS.";
      } else {
        mode.textContent = "Plain SMS.";
      }
    }
    if (counter && window.ArteraSegments) {
      if (secure || !text) {
        counter.textContent = "";
      } else {
        var sms = plainPrefix ? text.slice(2).replace(/^\s+/, "") : text;
        var c = window.ArteraSegments.count(sms);
        counter.textContent =
          Array.from(sms).length + " characters · " + c.segments + " segment" +
          (c.segments === 1 ? "" : "s") + (c.encoding === "ucs2" ? " (Unicode)" : "");
      }
    }
  }

  // The composer remembers the newest message it had seen when its text was empty: a reply by a
  // colleague after that is announced before sending.
  function refreshSeen() {
    var body = composerBody();
    var seen = document.getElementById("composer-seen");
    var confirmed = document.getElementById("composer-confirmed");
    var timeline = document.getElementById("timeline");
    if (body && seen && timeline && !body.value.trim() && !(confirmed && confirmed.value)) {
      seen.value = timeline.dataset.latestMessage || "";
    }
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  var stickToBottom = true;

  // The thread scrolls in #thread-scroll: earlier pages (#older) above the live timeline.
  function scrollBox() {
    return document.getElementById("thread-scroll");
  }

  function scrollTimeline() {
    var box = scrollBox();
    if (box && stickToBottom) {
      box.scrollTop = box.scrollHeight;
    }
  }

  document.addEventListener("click", function (event) {
    var item = event.target.closest ? event.target.closest("[data-insert]") : null;
    if (!item) {
      return;
    }
    var body = composerBody();
    if (body) {
      insertAtCursor(body, item.dataset.insert);
    }
    var details = item.closest("details");
    if (details) {
      details.open = false;
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "composer-body") {
      updateComposer();
    }
  });
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "composer-secure") {
      updateComposer();
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && (target.id === "composer-body" || target.id === "note-body") &&
        event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      target.form.requestSubmit();
    }
    if (event.key === "Escape") {
      document.querySelectorAll("details.picker[open]").forEach(function (d) {
        d.open = false;
        d.querySelector("summary").focus();
      });
    }
  });

  document.addEventListener("scroll", function (event) {
    if (event.target && event.target.id === "thread-scroll") {
      stickToBottom = nearBottom(event.target);
    }
  }, true);

  // An earlier page goes in above what the reader is looking at: keep that where it is.
  var heightBeforeOlder = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var box = scrollBox();
    if (!box) {
      return;
    }
    if (event.detail.target && event.detail.target.id === "timeline") {
      stickToBottom = nearBottom(box);
    } else if (event.detail.target && event.detail.target.classList.contains("older-more")) {
      stickToBottom = false;
      heightBeforeOlder = box.scrollHeight;
    }
  });

  document.addEventListener("htmx:afterSwap", function () {
    var box = scrollBox();
    if (box && heightBeforeOlder !== null) {
      box.scrollTop += box.scrollHeight - heightBeforeOlder;
      heightBeforeOlder = null;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    refreshSeen();
    scrollTimeline();
    updateComposer();
  });

  // A reply that went out clears the draft; focus stays in the composer for the next one.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "composer") {
      var body = composerBody();
      if (body) {
        body.focus();
      }
    }
  });

  function init() {
    refreshSeen();
    scrollTimeline();
    updateComposer();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
