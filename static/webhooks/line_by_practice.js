// The call-to-text workflow's "Line" select lists only the lines of the practice picked in the
// "Practice" field (each option carries data-practice="<practice id>"). The server still refuses
// another practice's line on save; this only keeps the wrong ones out of sight. Loaded as a
// file: the admin's CSP allows no inline script.
(function () {
  "use strict";

  function filter(lineSelect, practiceId) {
    let keepsChoice = false;
    lineSelect.querySelectorAll("option").forEach(function (option) {
      if (!option.value) {
        return; // the blank choice: the practice's default line
      }
      const mine = Boolean(practiceId) && option.dataset.practice === practiceId;
      option.hidden = !mine;
      option.disabled = !mine;
      if (mine && option.selected) {
        keepsChoice = true;
      }
    });
    if (!keepsChoice) {
      lineSelect.value = "";
    }
  }

  function attach(lineSelect) {
    const form = lineSelect.form;
    const practice = form && form.querySelector("[name=" + lineSelect.dataset.practiceField + "]");
    if (!practice) {
      return;
    }
    const update = function () {
      filter(lineSelect, practice.value);
    };
    // The practice field is a select2 autocomplete: it announces a pick through jQuery, which
    // jQuery listeners hear and native ones do not.
    if (window.django && window.django.jQuery) {
      window.django.jQuery(practice).on("change", update);
    } else {
      practice.addEventListener("change", update);
    }
    update();
  }

  function attachAll() {
    document.querySelectorAll("select[data-practice-field]").forEach(attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})();
