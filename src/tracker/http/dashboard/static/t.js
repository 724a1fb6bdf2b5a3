/* tracker t.js: page views (single-page-app navigation too), outbound-link clicks, custom events,
   consent. First party: it talks only to the tracker it was loaded from. Events are the Go
   clients' JSON: load/page, reroute/page, click/outbound, or your own name. */
(function (w, d, N) {
  var me = d.currentScript, L = location,
    base = me ? me.src.replace(/\/t\.js([?#].*)?$/, "") : "",
    url = base + "/tr/",
    asks = me && me.getAttribute("data-consent") == "required",
    flags = +get("tr_cflags") || 0,
    held = [], seen = L.href, old = w.tracker, q = (old && old.q) || [];

  function get(n) {
    var m = d.cookie.match("(?:^|; )" + n + "=([^;]*)");
    return m ? decodeURIComponent(m[1]) : "";
  }
  function set(n, v, s) {
    d.cookie = n + "=" + encodeURIComponent(v) + ";path=/;SameSite=Lax;max-age=" + s +
      (L.protocol == "https:" ? ";Secure" : "");
  }
  function uuid() {
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }
  function allowed() { return !asks || flags > 0; }

  function send(o) {
    if (!allowed()) { if (held.length < 50) held.push(o); return; }
    var vid = get("tr_vid") || uuid(), sid = get("tr_sid") || uuid();
    set("tr_vid", vid, 34e6);     // about 400 days
    set("tr_sid", sid, 1800);     // a session ends after 30 minutes without an event
    o.vid = vid; o.sid = sid;
    o.url = o.url || L.href;
    o.w = w.innerWidth; o.h = w.innerHeight;
    try { o.tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) {}
    if (flags) o.cflags = flags;
    var body = JSON.stringify(o);
    if (!(N.sendBeacon && N.sendBeacon(url, body)))
      fetch(url, { method: "POST", body: body, keepalive: true, credentials: "include" });
  }

  function view(name, last) {
    var o = { ename: name, etyp: "page", last: last },
      p = new URLSearchParams(L.search);
    ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
      var v = p.get("utm_" + k);
      if (v) o[k] = v;
    });
    send(o);
  }

  function moved() {
    if (L.href != seen) { var last = seen; seen = L.href; view("reroute", last); }
  }

  function call(a) {
    var name = a[0], props = a[1] || {}, o = {}, k;
    if (name == "consent") {
      flags = +props || 0;
      if (flags) {
        set("tr_cflags", flags, 34e6);
        while (held.length) send(held.shift());
      } else {
        held = [];
        ["tr_cflags", "tr_vid", "tr_sid"].forEach(function (n) { set(n, "", 0); });
      }
      return;
    }
    for (k in props) o[k] = props[k];
    o.ename = name;
    send(o);
  }

  ["pushState", "replaceState"].forEach(function (f) {
    var orig = history[f];
    history[f] = function () { var r = orig.apply(this, arguments); moved(); return r; };
  });
  w.addEventListener("popstate", moved);

  d.addEventListener("click", function (e) {
    var a = e.target && e.target.closest && e.target.closest("a[href]");
    if (a && /^https?:$/.test(a.protocol) && a.host != L.host)
      send({ ename: "click", etyp: "outbound",
             params: { href: a.href, firsttext: (a.textContent || "").trim().slice(0, 50) } });
  }, true);

  w.tracker = function () { call(arguments); };
  view("load", d.referrer);
  q.forEach(call);
})(window, document, navigator);
