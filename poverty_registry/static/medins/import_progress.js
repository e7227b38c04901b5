// Polls an import's status while it runs as a background task; reloads the page when it is done.
(function () {
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function poll() {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      document.getElementById("progress-bar").value = s.percent;
      document.getElementById("progress-text").textContent = s.percent + "% " + s.stage;
      document.getElementById("run-status").textContent = s.status_display;
      if (s.running) { setTimeout(poll, 1000); } else { window.location.reload(); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
