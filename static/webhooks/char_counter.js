// Live character counter for textareas marked data-char-counter="<max>" (call-to-text workflow
// messages in admin). Counts characters the way the server does (code points, a line break is
// one character). Loaded as a file: the admin's CSP allows no inline script.
(function () {
  "use strict";

  function length(text) {
    return Array.from(text.replace(/\r\n/g, "\n")).length;
  }

  function attach(textarea) {
    if (textarea.dataset.charCounterReady) {
      return;
    }
    textarea.dataset.charCounterReady = "1";
    const max = parseInt(textarea.dataset.charCounter, 10);
    const counter = document.createElement("div");
    counter.className = "char-counter";
    counter.setAttribute("aria-live", "polite");
    textarea.insertAdjacentElement("afterend", counter);

    function update() {
      const used = length(textarea.value);
      const over = used > max;
      counter.textContent = over
        ? used + " / " + max + " characters: " + (used - max) + " too many"
        : used + " / " + max + " characters";
      counter.classList.toggle("char-counter-over", over);
      textarea.setAttribute("aria-invalid", over ? "true" : "false");
    }

    textarea.addEventListener("input", update);
    update();
  }

  function attachAll() {
    document.querySelectorAll("textarea[data-char-counter]").forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})();
