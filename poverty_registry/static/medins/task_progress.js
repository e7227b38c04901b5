// Polls a background task's status (data-status-url on #task-progress) while it runs; reloads the page when
// it has ended, so the page shows what the task found.
(function () {
  var box = document.getElementById("task-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function poll() {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      box.querySelector("progress").value = s.percent;
      box.querySelector(".progress-text").textContent = s.stage;
      if (s.running) { setTimeout(poll, 2000); } else { window.location.reload(); }
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
