// The dashboard's running campaigns, refreshed every 5 s from /console/progress.json (behind the door:
// the session cookie goes along). Without JavaScript the page shows the same numbers on reload.
(function () {
  "use strict";
  var table = document.getElementById("running");
  if (!table) { return; }
  var source = table.getAttribute("data-source");
  var shown = Array.prototype.map.call(table.querySelectorAll("tr[data-campaign]"), function (row) {
    return row.getAttribute("data-campaign");
  }).sort().join(",");
  var number = new Intl.NumberFormat(document.documentElement.lang || undefined);

  function put(row, campaign) {
    ["sent", "delivered", "replied", "accepted"].forEach(function (name) {
      var cell = row.querySelector('[data-count="' + name + '"]');
      var value = campaign[name];
      if (cell) { cell.textContent = value === null ? "\u2013" : number.format(value); }
    });
    var bar = row.querySelector('[data-count="progress"]');
    if (bar) {
      bar.max = campaign.target;
      bar.value = campaign.sent;
      bar.textContent = campaign.sent + " / " + campaign.target;
    }
  }

  function refresh() {
    fetch(source, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) {
        if (answer.redirected || !answer.ok) { throw new Error("signed out or failed"); }
        return answer.json();
      })
      .then(function (body) {
        var ids = body.campaigns.map(function (c) { return String(c.id); }).sort().join(",");
        if (ids !== shown) { window.location.reload(); return; }  // one finished or started: redraw
        body.campaigns.forEach(function (campaign) {
          var row = table.querySelector('tr[data-campaign="' + campaign.id + '"]');
          if (row) { put(row, campaign); }
        });
        table.setAttribute("data-refreshed", new Date().toISOString());
      })
      .catch(function () { window.clearInterval(timer); });
  }

  var timer = window.setInterval(refresh, 5000);
}());
