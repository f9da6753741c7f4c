// The wizard's live count and phone preview: as fields change, the form is posted with step=check and the
// answer (audience size, each language's message as sent, its encoding and segments) fills the page.
// Without JavaScript the "Count" and "Show as the phone shows it" buttons do the same by a full post.
(function () {
  "use strict";
  var form = document.getElementById("wizard");
  if (!form) { return; }
  var timer = null;
  var count = document.getElementById("count");
  function show(answer) {
    count.textContent = answer.count_text;
    ["en", "zh"].forEach(function (key) {
      var sms = form.querySelector('[data-sms="' + key + '"]');
      var cost = form.querySelector('[data-cost="' + key + '"]');
      var p = answer.phone[key];
      sms.textContent = p ? p.text : "";
      cost.textContent = p ? answer.cost[key] : "";
    });
  }
  function check() {
    var data = new URLSearchParams(new FormData(form));
    data.set("step", "check");
    fetch(form.action, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) { show(answer); } })
      .catch(function () {});
  }
  function later() { clearTimeout(timer); timer = setTimeout(check, 400); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
}());
