// The inbox's small enhancements: the workspace (list and thread side by side, or one at a time
// on a phone), pickers that insert into the composer, the composer's secure/plain indicator and
// segment counter, the "last message seen" marker the server checks for collisions, Ctrl+Enter
// to send, and keeping the thread scrolled to its newest message.
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

  // One picker open at a time (quick responses, smart phrases, the "/" and "@" lists).
  function closePickers(except) {
    document.querySelectorAll("details.picker[open]").forEach(function (d) {
      if (d !== except) {
        d.open = false;
      }
    });
  }

  // Smart phrases as the send path fills them in for this conversation (the server's values,
  // data-phrases on the reply area): the counter counts what the patient will get.
  var PHRASE = /\{([A-Za-z][A-Za-z0-9_]{0,49})\}/g;

  function fillPhrases(text) {
    var area = document.querySelector(".composer-area");
    var values = area && area.dataset.phrases ? JSON.parse(area.dataset.phrases) : {};
    return text.replace(PHRASE, function (token, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : token;
    });
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
        var sms = fillPhrases(plainPrefix ? text.slice(2).replace(/^\s+/, "") : text);
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

  // One column (a phone): the page itself scrolls and the reply box sticks to the bottom.
  function oneColumn() {
    return window.matchMedia("(max-width: 899.98px)").matches;
  }

  // The thread scrolls in #thread-scroll (the page, on a phone): earlier pages (#older) above
  // the live timeline.
  function scrollBox() {
    var box = document.getElementById("thread-scroll");
    if (box && oneColumn()) {
      return document.scrollingElement;
    }
    return box;
  }

  function scrollTimeline() {
    var box = scrollBox();
    if (box && stickToBottom) {
      box.scrollTop = box.scrollHeight;
    }
  }

  // The workspace: which side shows on a phone, and which row is the open conversation.
  function syncWorkspace() {
    var ws = document.getElementById("workspace");
    if (!ws) {
      return;
    }
    var open = document.querySelector("#thread-pane .thread-main");
    ws.classList.toggle("has-thread", !!open);
    var openId = open ? open.dataset.channel : null;
    document.querySelectorAll("#channel-list .channel-row").forEach(function (row) {
      var current = openId !== null && row.id === "channel-" + openId;
      var link = row.querySelector(".channel-link");
      row.classList.toggle("is-current", current);
      if (link) {
        if (current) {
          link.setAttribute("aria-current", "page");
        } else {
          link.removeAttribute("aria-current");
        }
      }
      if (current && row.classList.contains("is-unread")) {
        // Opening it marked it read on the server; the next list refresh agrees.
        row.classList.remove("is-unread");
        var dot = row.querySelector(".unread-dot");
        if (dot) {
          dot.remove();
        }
      }
    });
  }

  // A thread opened at a message (a search hit) shows that message, marked, not the newest.
  function focusHit() {
    var main = document.querySelector("#thread-pane .thread-main[data-focus]");
    var hit = main ? document.getElementById(main.dataset.focus) : null;
    if (!hit || main.dataset.focused) {
      return;
    }
    main.dataset.focused = "1";
    stickToBottom = false;
    hit.classList.add("is-hit");
    hit.scrollIntoView({ block: "center" });
  }

  function threadOpened() {
    stickToBottom = true;
    heightBeforeOlder = null;
    syncWorkspace();
    focusHit();
    var heading = document.querySelector("#thread-header h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
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
    var box = scrollBox();
    var target = event.target === document ? document.scrollingElement : event.target;
    if (box && target === box) {
      stickToBottom = nearBottom(box);
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

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "thread-pane") {
      threadOpened();
    } else if (event.detail.target && event.detail.target.id === "channel-list") {
      syncWorkspace();
    }
    var box = scrollBox();
    if (box && heightBeforeOlder !== null) {
      box.scrollTop += box.scrollHeight - heightBeforeOlder;
      heightBeforeOlder = null;
    }
  });

  // Back (or Forward) restored the workspace from the server.
  document.addEventListener("htmx:historyRestore", function () {
    threadOpened();
    init();
  });

  document.addEventListener("htmx:afterSettle", function () {
    syncWorkspace();
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

  // --- Suggestions while typing: "@" in a note lists the practice's members by display name
  // (choosing one writes "@username", which the server notifies; the list is the note form's
  // data-members); "/" in the reply box finds a quick response and puts its text in place.
  // Arrows move, Enter or Tab choose, Escape or a click elsewhere closes.
  var SUGGEST = {
    "note-body": {
      list: "mention-list",
      pattern: /(^|[^\w@])@([\w.+-]*)$/,
      options: function (query, input) {
        var form = input.form;
        if (!form || !form.dataset.members) {
          return [];
        }
        return JSON.parse(form.dataset.members).filter(function (m) {
          var name = m.name.toLowerCase();
          return name.indexOf(query) === 0 || m.username.toLowerCase().indexOf(query) === 0 ||
            name.split(/\s+/).some(function (part) { return part.indexOf(query) === 0; });
        }).map(function (m) {
          return { label: m.name, detail: "@" + m.username, insert: "@" + m.username + " " };
        });
      }
    },
    "composer-body": {
      list: "slash-list",
      pattern: /(^|\s)\/([^\s\/]*)$/,
      options: function (query) {
        return quickResponses(query).map(function (item) {
          return {
            label: item.dataset.insert.replace(/^!!\s*/, ""),
            detail: item.dataset.topic,
            plain: item.dataset.plain === "1",
            insert: item.dataset.insert
          };
        });
      }
    }
  };
  var suggestion = null; // {input, config, start, options, active}

  function quickResponses(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return Array.prototype.filter.call(document.querySelectorAll(".quick-response"), function (b) {
      var text = (b.dataset.insert + " " + b.dataset.topic).toLowerCase();
      return words.every(function (w) { return text.indexOf(w) !== -1; });
    });
  }

  function suggestClose() {
    if (!suggestion) {
      return;
    }
    var list = document.getElementById(suggestion.config.list);
    if (list) {
      list.hidden = true;
      list.textContent = "";
    }
    suggestion.input.removeAttribute("aria-activedescendant");
    suggestion = null;
  }

  function suggestRender() {
    var list = document.getElementById(suggestion.config.list);
    list.textContent = "";
    suggestion.options.forEach(function (option, i) {
      var li = document.createElement("li");
      li.id = suggestion.config.list + "-" + i;
      li.setAttribute("role", "option");
      li.className = "mention-option";
      li.dataset.index = String(i);
      li.setAttribute("aria-selected", i === suggestion.active ? "true" : "false");
      var label = document.createElement("span");
      label.textContent = option.label;
      li.appendChild(label);
      if (option.plain) {
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "Plain SMS";
        li.appendChild(document.createTextNode(" "));
        li.appendChild(badge);
      }
      var detail = document.createElement("span");
      detail.className = "muted small";
      detail.textContent = " " + option.detail;
      li.appendChild(detail);
      list.appendChild(li);
    });
    list.hidden = false;
    suggestion.input.setAttribute("aria-activedescendant",
      suggestion.config.list + "-" + suggestion.active);
  }

  function suggestUpdate(input) {
    var config = SUGGEST[input.id];
    var match = config && config.pattern.exec(input.value.slice(0, input.selectionStart));
    var options = match ? config.options(match[2].toLowerCase(), input).slice(0, 8) : [];
    if (!options.length) {
      suggestClose();
      return;
    }
    closePickers();
    suggestion = {
      input: input,
      config: config,
      start: input.selectionStart - match[2].length - 1,
      options: options,
      active: 0
    };
    suggestRender();
  }

  function suggestChoose(index) {
    var input = suggestion.input;
    var text = suggestion.options[index].insert;
    var start = suggestion.start;
    input.value = input.value.slice(0, start) + text + input.value.slice(input.selectionStart);
    suggestClose();
    input.focus();
    input.setSelectionRange(start + text.length, start + text.length);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    suggestClose();
  }

  document.addEventListener("input", function (event) {
    if (event.target && SUGGEST[event.target.id]) {
      suggestUpdate(event.target);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!suggestion || event.target !== suggestion.input) {
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var step = event.key === "ArrowDown" ? 1 : -1;
      suggestion.active =
        (suggestion.active + step + suggestion.options.length) % suggestion.options.length;
      suggestRender();
      event.preventDefault();
    } else if ((event.key === "Enter" && !event.ctrlKey && !event.metaKey) || event.key === "Tab") {
      suggestChoose(suggestion.active);
      event.preventDefault();
    } else if (event.key === "Escape") {
      suggestClose();
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest ? event.target.closest(".mention-option") : null;
    if (option && suggestion) {
      event.preventDefault();
      suggestChoose(Number(option.dataset.index));
    } else if (suggestion && !(event.target.closest && event.target.closest(".mention-box"))) {
      suggestClose();
    }
  });

  // The quick responses picker's search box filters its list as one types.
  document.addEventListener("input", function (event) {
    if (!event.target || event.target.id !== "quick-search") {
      return;
    }
    var shown = quickResponses(event.target.value);
    document.querySelectorAll(".quick-response").forEach(function (item) {
      item.closest("li").hidden = shown.indexOf(item) === -1;
    });
    document.querySelectorAll("#quick-responses .picker-group").forEach(function (group) {
      group.hidden = !group.querySelector("li:not([hidden])");
    });
  });

  // One picker open at a time; opening one closes any suggestion list; a click outside closes.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.classList && details.classList.contains("picker") && details.open) {
      closePickers(details);
      suggestClose();
      var search = details.querySelector(".picker-search");
      if (search) {
        search.focus();
      }
    }
  }, true);

  document.addEventListener("click", function (event) {
    if (!(event.target.closest && event.target.closest("details.picker"))) {
      closePickers();
    }
  });

  // The messages' delivery details are out of the Tab order; in the focused timeline the arrow
  // keys move between them (Enter opens one).
  document.addEventListener("keydown", function (event) {
    var box = document.getElementById("thread-scroll");
    if (!box || !box.contains(event.target) ||
        (event.key !== "ArrowDown" && event.key !== "ArrowUp")) {
      return;
    }
    var toggles = Array.prototype.slice.call(box.querySelectorAll(".msg-status summary"));
    if (!toggles.length) {
      return;
    }
    var at = toggles.indexOf(event.target);
    var next = at === -1 ? (event.key === "ArrowUp" ? toggles.length - 1 : 0) :
      Math.min(toggles.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)));
    toggles[next].focus();
    event.preventDefault();
  });

  // --- Keyboard: j/k through the list, Enter opens, r reply, e close, a assign to me, / search,
  // ? the list of shortcuts. Never while typing, and never with a modifier (browser shortcuts).
  function isTyping(el) {
    return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function moveSelection(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#channel-list .channel-link"));
    if (!links.length) {
      return;
    }
    var at = links.indexOf(document.activeElement);
    if (at === -1) {
      var marked = document.querySelector("#channel-list .is-selected .channel-link") ||
        document.querySelector("#channel-list .is-current .channel-link");
      at = marked ? links.indexOf(marked) : -1;
    }
    var next = at === -1 ? (step > 0 ? 0 : links.length - 1) :
      Math.min(links.length - 1, Math.max(0, at + step));
    document.querySelectorAll("#channel-list .is-selected").forEach(function (row) {
      row.classList.remove("is-selected");
    });
    links[next].closest(".channel-row").classList.add("is-selected");
    links[next].focus();
  }

  function press(selector) {
    var button = document.querySelector(selector);
    if (button && !button.disabled) {
      button.click();
      return true;
    }
    return false;
  }

  function openShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) {
      dialog.showModal();
    }
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) {
      openShortcuts();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey ||
        isTyping(event.target) || document.querySelector("dialog[open]")) {
      return;
    }
    var handled = true;
    switch (event.key) {
      case "j":
        moveSelection(1);
        break;
      case "k":
        moveSelection(-1);
        break;
      case "r":
        var body = composerBody();
        handled = !!body && !body.disabled;
        if (handled) {
          body.focus();
        }
        break;
      case "e":
        handled = press('#thread-header button[name="action"][value="close"]');
        break;
      case "a":
        handled = press('#thread-header button[name="assignee"][value="me"]');
        break;
      case "/":
        var search = document.getElementById("inbox-search");
        handled = !!search && search.offsetParent !== null;
        if (handled) {
          search.focus();
          search.select();
        }
        break;
      case "?":
        openShortcuts();
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  });

  function init() {
    syncWorkspace();
    focusHit();
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
