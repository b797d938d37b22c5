// SMS segment counting, a port of messaging/segments.py: the composer's counter must agree with
// what the send path stores. Keep the two in step (tests/inbox/test_segments_js.py compares them).
(function () {
  "use strict";

  var GSM7_BASIC =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "\f^{}\\[~]|€";
  var GSM7_SINGLE = 160, GSM7_PART = 153, UCS2_SINGLE = 70, UCS2_PART = 67;

  function count(text) {
    var chars = Array.from(text); // code points, as Python iterates a str
    var gsm = chars.every(function (ch) {
      return GSM7_BASIC.indexOf(ch) !== -1 || GSM7_EXTENSION.indexOf(ch) !== -1;
    });
    var units = chars.map(function (ch) {
      if (gsm) {
        return GSM7_EXTENSION.indexOf(ch) !== -1 ? 2 : 1;
      }
      return ch.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var single = gsm ? GSM7_SINGLE : UCS2_SINGLE;
    var part = gsm ? GSM7_PART : UCS2_PART;
    var total = units.reduce(function (a, b) { return a + b; }, 0);
    var segments = 1;
    if (total > single) {
      var used = 0;
      units.forEach(function (size) {
        if (used + size > part) {
          segments += 1;
          used = 0;
        }
        used += size;
      });
    }
    return { encoding: gsm ? "gsm7" : "ucs2", segments: segments, units: total };
  }

  window.ArteraSegments = { count: count };
})();
