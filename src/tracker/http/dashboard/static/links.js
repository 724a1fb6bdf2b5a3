// The tracking-URL builder and the short-link page (the Go tracker's track_url.html and
// shorten_url.html), against this tracker's API.
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function clean(value) {
    return value.replace(/ /g, "_").replace(/[^a-zA-Z0-9_]/g, "").toLowerCase();
  }
  function copier(button, source) {
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source()).then(function () { button.textContent = "Copied"; });
    });
  }

  // -- tracking URL ------------------------------------------------------------------------------
  var track = $("track-form");
  if (track) {
    var FIELDS = [["ptyp", "ptyp"], ["source", "utm_source"], ["medium", "utm_medium"],
      ["campaign", "utm_campaign"], ["term", "utm_term"], ["aff", "aff"], ["sink", "sink"],
      ["score", "score", true], ["xid", "xid"], ["ver", "ver", true], ["auth", "auth", true],
      ["ename", "utm_content"], ["etyp", "etyp"], ["uname", "uname"]];
    var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

    var build = function () {
      var mode = track.querySelector("input[name=mode]:checked").value;
      var url = $("url").value.trim(), tracker = $("tracker").value.trim().replace(/\/+$/, "");
      $("tracker-row").hidden = mode === "internal";
      $("hideqp-row").hidden = mode === "pixel";
      var error = "";
      if (!/^https?:\/\/[^\s/]+/i.test(url)) error = "Enter the page's full URL (https://…).";
      else if (mode !== "internal" && !/^https?:\/\/[^\s/]+$/i.test(tracker))
        error = "Enter the tracker as https://host.";
      else if ($("auth").value && !UUID.test($("auth").value.trim().toLowerCase()))
        error = "The author id must be a UUID.";
      $("errors").textContent = error;
      $("result").hidden = !!error;
      if (error) return;
      var params = "";
      FIELDS.forEach(function (f) {
        var raw = $(f[0]).value.trim();
        var value = f[2] ? raw.toLowerCase() : clean(raw);
        if (value) params += "&" + f[1] + "=" + encodeURIComponent(value);
      });
      var hide = $("hideqp").checked, sep = url.indexOf("?") > -1 ? "&" : "?";
      var page = hide ? url : url + sep + "gu=1" + params;
      var link;
      if (mode === "internal") link = page;
      else if (mode === "pixel") link = tracker + track.getAttribute("data-prefix") + "/img/?gu=1" + params + "&url=" + encodeURIComponent(url);
      else link = tracker + track.getAttribute("data-prefix") + "/rdr/?gu=1" + params + "&url=" + encodeURIComponent(page);
      $("link").textContent = link;
      $("link").href = link;
      $("shorten").hidden = mode === "pixel";
      $("shorten").href = "/dashboard/links/short?url=" + encodeURIComponent(link);
    };
    track.addEventListener("input", build);
    track.addEventListener("change", build);
    track.addEventListener("submit", function (e) { e.preventDefault(); build(); });
    copier($("copy"), function () { return $("link").href; });
    build();
  }

  // -- short links -------------------------------------------------------------------------------
  var shorten = $("shorten-form");
  if (shorten) {
    var prefix = shorten.getAttribute("data-prefix");
    var host = location.hostname;
    if (!$("slug").value) {
      var letters = "abcdefghijkmnopqrstuvwxyz23456789", slug = "";
      crypto.getRandomValues(new Uint8Array(6)).forEach(function (b) { slug += letters[b % letters.length]; });
      $("slug").value = slug;
    }
    var list = function () {
      fetch(prefix + "/rpi/redirects/" + encodeURIComponent(host), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var body = $("links").tBodies[0];
          body.textContent = "";
          (data.results || []).slice().reverse().forEach(function (row) {
            var tr = body.insertRow();
            [row.urlfrom, row.urlto, row.updated_at].forEach(function (text) {
              var cell = tr.insertCell();
              cell.className = "text";
              cell.textContent = text;
            });
          });
        });
    };
    shorten.addEventListener("submit", function (e) {
      e.preventDefault();
      var path = "/" + $("slug").value.trim().replace(/^\/+/, "");
      var urlfrom = location.origin + path;
      fetch(prefix + "/rpi/redirect", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ urlfrom: urlfrom, urlto: $("urlto").value.trim() })
      }).then(function (r) {
        return r.ok ? null : r.json().then(function (body) { return body.error || ("HTTP " + r.status); });
      }).then(function (error) {
        $("errors").textContent = error || "";
        $("saved").hidden = !!error;
        if (!error) {
          $("short-link").textContent = urlfrom;
          $("short-link").href = urlfrom;
          list();
        }
      });
    });
    copier($("copy"), function () { return $("short-link").href; });
    list();
  }
})();
