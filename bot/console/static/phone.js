/* The tester phone without full reloads: keypad keys type into the field at once, Send and End post the
   same form with fetch and swap in the handset and inbox of the page the POST redirects to; the inbox (and
   a screen waiting for an SMS reply) is refreshed every few seconds. Without this file the forms still work. */
(function () {
  "use strict";
  var POLL_MS = 4000;

  function swap(html, ids) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    ids.forEach(function (id) {
      var now = document.getElementById(id), next = doc.getElementById(id);
      if (now && next) { now.replaceWith(next); }
    });
  }

  function post(form, submitter) {
    var body = new URLSearchParams(new FormData(form, submitter));  // form.action is the "action" buttons
    return fetch(form.getAttribute("action"), {method: "POST", body: body, credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        swap(html, ["handset", "inbox"]);
        var typed = document.getElementById("typed");
        if (typed) { typed.focus(); }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target, button = event.submitter;
    if (form.id !== "keys") { return; }
    event.preventDefault();
    if (button && button.name === "key") {
      var typed = document.getElementById("typed");
      typed.value = (typed.value + button.value).slice(0, 160);
      return;
    }
    post(form, button && button.name === "action" ? button : form.querySelector(".phone-send"));
  });

  function poll() {
    if (document.hidden || !document.getElementById("inbox")) { return; }
    fetch(window.location.pathname, {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        swap(html, document.getElementById("waiting") ? ["screen", "inbox"] : ["inbox"]);
      });
  }
  window.setInterval(poll, POLL_MS);
}());
