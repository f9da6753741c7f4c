// A campaign's page: its state and counts polled every few seconds (the page itself is right on reload).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress");
  var finished = ["done", "cancelled"];
  function poll() {
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) { return; }
        Object.keys(counts).forEach(function (k) {
          var cell = box.querySelector('[data-count="' + k + '"]');
          if (cell && k !== "state") { cell.textContent = counts[k] === null ? "–" : counts[k]; }
        });
        if (counts.state !== box.getAttribute("data-state")) {
          if (box.getAttribute("data-state")) { window.location.reload(); return; }  // new buttons
        }
        if (finished.indexOf(counts.state) < 0) { setTimeout(poll, 3000); }
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, 3000);
}());
