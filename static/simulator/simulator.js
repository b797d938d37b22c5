// Keep the newest text in view, and send with Enter (Shift+Enter for a new line).
(function () {
  "use strict";
  function scrollThread() {
    var thread = document.getElementById("thread");
    if (thread) { thread.scrollTop = thread.scrollHeight; }
  }
  document.addEventListener("DOMContentLoaded", scrollThread);
  document.addEventListener("htmx:afterSwap", function (event) {
    scrollThread();
    if (event.target && event.target.id === "phone") {
      var body = document.getElementById("reply-body");
      if (body) { body.focus(); }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.target && event.target.id === "reply-body" && event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
})();
