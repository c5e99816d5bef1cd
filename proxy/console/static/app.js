// cloakroom console: keeps the live parts of a page fresh. The server renders and
// escapes every fragment; this script only fetches them when the server announces
// a change (Server-Sent Events on /console/events) or on a timer, and never turns
// data into HTML itself.
(function () {
  "use strict";

  var live = document.getElementById("live");
  var parts = Array.prototype.map.call(document.querySelectorAll("[data-live-url]"), function (el) {
    return {
      el: el,
      url: el.getAttribute("data-live-url"),
      on: (el.getAttribute("data-live-on") || "").split(/\s+/).filter(Boolean),
      min: Number(el.getAttribute("data-live-min")) || 0,
      poll: Number(el.getAttribute("data-live-poll")) || 0,
      last: 0,
      timer: null,
      busy: false,
      again: false
    };
  });

  function setState(state, text) {
    if (!live) return;
    live.setAttribute("data-state", state);
    live.textContent = text;
  }

  // refresh fetches a part again, at most once per its data-live-min milliseconds.
  function refresh(p) {
    if (p.busy) { p.again = true; return; }
    var wait = p.last + p.min - Date.now();
    if (wait > 0) {
      if (!p.timer) p.timer = setTimeout(function () { p.timer = null; refresh(p); }, wait);
      return;
    }
    p.busy = true;
    p.last = Date.now();
    fetch(p.url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401) { location.assign("/console/login"); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (typeof html === "string" && html !== p.html) {
          p.html = html;
          p.el.innerHTML = html;
        }
      })
      .catch(function () { setState("off", "offline"); })
      .then(function () {
        p.busy = false;
        if (p.again) { p.again = false; refresh(p); }
      });
  }

  function refreshAll() { parts.forEach(refresh); }

  // connect listens to the server's events; on (re)connect it refreshes every part,
  // which catches up on anything missed while disconnected.
  function connect() {
    var kinds = {};
    parts.forEach(function (p) { p.on.forEach(function (k) { kinds[k] = true; }); });
    var es = new EventSource("/console/events");
    es.onopen = function () { setState("on", "live"); refreshAll(); };
    Object.keys(kinds).forEach(function (kind) {
      es.addEventListener(kind, function () {
        parts.forEach(function (p) { if (p.on.indexOf(kind) >= 0) refresh(p); });
      });
    });
    es.onerror = function () {
      setState("off", "reconnecting");
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        setTimeout(function () { refreshAll(); connect(); }, 5000);
      }
    };
  }

  if (parts.length === 0) {
    if (live) live.hidden = true;
  } else {
    parts.forEach(function (p) { if (p.poll > 0) setInterval(function () { refresh(p); }, p.poll); });
    if (window.EventSource) connect(); else setState("off", "polling");
  }

  // A click anywhere on a feed row opens the request.
  document.addEventListener("click", function (ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    var t = ev.target;
    if (!(t instanceof Element) || t.closest("a, button, input, select, label")) return;
    var row = t.closest("tr[data-href]");
    var href = row && row.getAttribute("data-href");
    if (href && href.indexOf("/console/") === 0) location.assign(href);
  });

  // Filters apply as soon as one is picked.
  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.submit(); });
  }
})();
