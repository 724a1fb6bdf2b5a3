// The dashboard's few behaviours: the site picker submits itself, realtime refreshes every 15 s,
// and copy buttons copy. Everything else is plain links and forms.
(function () {
  "use strict";
  var site = document.getElementById("site");
  if (site) {
    site.addEventListener("change", function () { site.form.submit(); });
  }

  var box = document.getElementById("realtime");
  var count = document.getElementById("realtime-visitors");
  function refresh() {
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.rows && data.rows[0]) count.textContent = data.rows[0].visitors;
      })
      .catch(function () {});
  }
  if (box && count) setInterval(refresh, 15000);

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.getAttribute("data-copy")).textContent;
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    });
  });
})();
