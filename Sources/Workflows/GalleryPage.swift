/// The gallery page: one self-contained HTML file (inline style and script, no network). The
/// data object replaces `@DATA@`; `@TITLE@` and `@GENERATOR@` are filled in the head.
enum GalleryPage {
  static let template = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="generator" content="@GENERATOR@">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>@TITLE@</title>
    <style>
    :root { color-scheme: dark; --bg: #15171a; --fg: #e6e6e6; --dim: #9aa0a6; --hi: #f0b429; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg);
      font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
    header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 1em;
      padding: .6em 1em; border-bottom: 1px solid #2a2d31; }
    h1 { font-size: 1.1em; margin: 0; font-weight: 600; }
    .help { color: var(--dim); margin: 0; font-size: .9em; }
    kbd { border: 1px solid #444; border-radius: 3px; padding: 0 .3em; font-size: .85em; }
    #methods button { background: #23262a; color: var(--fg); border: 1px solid #3a3d42;
      border-radius: 4px; padding: .2em .7em; margin-right: .3em; cursor: pointer; font: inherit; }
    #methods button.active { border-color: var(--hi); color: var(--hi); }
    main { display: flex; height: calc(100vh - 3em); }
    #rows { list-style: none; margin: 0; padding: .4em 0; width: 14em; overflow-y: auto;
      border-right: 1px solid #2a2d31; flex: none; }
    #rows li { padding: .1em 1em; cursor: pointer; white-space: nowrap; overflow: hidden;
      text-overflow: ellipsis; }
    #rows li.active { background: #2b2f35; color: var(--hi); }
    #view { flex: 1; overflow: auto; padding: .8em 1em; }
    #strip { display: flex; flex-wrap: wrap; gap: .5em; margin-bottom: .8em; }
    #strip figure { margin: 0; padding: 3px; border: 2px solid transparent; border-radius: 4px;
      cursor: pointer; text-align: center; font-size: .8em; color: var(--dim); }
    #strip figure.active { border-color: var(--hi); color: var(--fg); }
    #strip img, #strip .none { display: block; width: var(--thumb, 96px); height: var(--thumb, 96px);
      object-fit: contain; background: #000; image-rendering: auto; }
    #strip .none { line-height: var(--thumb, 96px); color: #555; }
    #full-box { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
    #full { max-width: min(100%, 672px); min-width: 224px; image-rendering: pixelated;
      background: #000; }
    #full.missing { visibility: hidden; }
    #prompt { font-size: 1.15em; margin: 0 0 .4em; max-width: 36em; }
    #meta { color: var(--dim); font-variant-numeric: tabular-nums; }
    #meta b { color: var(--hi); font-weight: 600; }
    </style>
    </head>
    <body>
    <header>
    <h1 id="title"></h1>
    <nav id="methods" aria-label="rendering method"></nav>
    <p class="help"><kbd>↑</kbd>/<kbd>↓</kbd> <span id="row-name"></span> ·
    <kbd>←</kbd>/<kbd>→</kbd> <span id="col-name"></span> ·
    <kbd>1</kbd>…<kbd id="last-key">1</kbd> method</p>
    </header>
    <main>
    <ol id="rows" aria-label="rows"></ol>
    <section id="view">
    <div id="strip"></div>
    <div id="full-box">
    <img id="full" alt="">
    <div><p id="prompt"></p><div id="meta"></div></div>
    </div>
    </section>
    </main>
    <script>
    const DATA = @DATA@;
    </script>
    <script>
    "use strict";
    (function () {
      var d = DATA;
      var state = { m: 0, r: 0, c: 0 };
      var $ = function (id) { return document.getElementById(id); };

      function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
      function cell(m, r, c) {
        var method = d.cells[m] || [];
        var row = method[r] || [];
        return row[c] || null;
      }
      function fixed(x) { return typeof x === "number" ? x.toFixed(2) : "–"; }
      function make(tag, className, text) {
        var e = document.createElement(tag);
        if (className) e.className = className;
        if (text !== undefined) e.textContent = text;
        return e;
      }

      function buildStatic() {
        document.title = d.title;
        document.documentElement.style.setProperty("--thumb", d.thumbSize + "px");
        $("title").textContent = d.title;
        $("row-name").textContent = d.rowVariable;
        $("col-name").textContent = d.columnVariables.join(" / ") || "—";
        $("last-key").textContent = String(Math.min(9, d.methods.length));
        d.methods.forEach(function (m, i) {
          var b = make("button", "", (i + 1) + ": " + m.label);
          b.title = m.directory;
          b.addEventListener("click", function () { select(i, state.r, state.c); });
          $("methods").appendChild(b);
        });
        d.rows.forEach(function (r, i) {
          var li = make("li", "", r || "(none)");
          li.addEventListener("click", function () { select(state.m, i, state.c); });
          $("rows").appendChild(li);
        });
      }

      function render() {
        var body = document.body;
        body.dataset.method = String(state.m);
        body.dataset.row = String(state.r);
        body.dataset.col = String(state.c);
        Array.prototype.forEach.call($("methods").children, function (b, i) {
          b.classList.toggle("active", i === state.m);
          b.setAttribute("aria-pressed", i === state.m ? "true" : "false");
        });
        Array.prototype.forEach.call($("rows").children, function (li, i) {
          li.classList.toggle("active", i === state.r);
          if (i === state.r && li.scrollIntoView) li.scrollIntoView({ block: "nearest" });
        });
        var strip = $("strip");
        strip.textContent = "";
        d.columns.forEach(function (label, c) {
          var x = cell(state.m, state.r, c);
          var f = make("figure", c === state.c ? "active" : "");
          if (x) {
            var img = make("img");
            img.src = x.thumb;
            img.alt = x.prompt;
            img.loading = "lazy";
            f.appendChild(img);
          } else {
            f.appendChild(make("div", "none", "—"));
          }
          f.appendChild(make("figcaption", "", (label || d.rows[state.r]) +
            (x ? " · " + fixed(x.similarity) : "") +
            (x && typeof x.judge === "number" ? " · judge " + fixed(x.judge) : "")));
          f.addEventListener("click", function () { select(state.m, state.r, c); });
          strip.appendChild(f);
        });
        var x = cell(state.m, state.r, state.c);
        var full = $("full");
        var meta = $("meta");
        meta.textContent = "";
        if (x) {
          full.src = x.image;
          full.alt = x.prompt;
          full.classList.remove("missing");
          $("prompt").textContent = x.prompt || x.name;
          meta.appendChild(document.createTextNode("similarity "));
          meta.appendChild(make("b", "", fixed(x.similarity)));
          if (typeof x.judge === "number") {
            meta.appendChild(document.createTextNode(" · judge "));
            meta.appendChild(make("b", "", fixed(x.judge)));
          }
          var parts = [];
          if (x.seed) parts.push("seed " + x.seed);
          if (typeof x.seconds === "number") parts.push(x.seconds.toFixed(1) + " s");
          parts.push(x.name);
          parts.push(d.methods[state.m].label);
          meta.appendChild(document.createTextNode(" · " + parts.join(" · ")));
        } else {
          full.removeAttribute("src");
          full.alt = "";
          full.classList.add("missing");
          $("prompt").textContent = "not rendered (yet) with " + (d.methods[state.m] || {}).label;
        }
        try {
          location.replace("#m=" + (state.m + 1) + "&r=" + state.r + "&c=" + state.c);
        } catch (e) { /* some file:// settings forbid it; navigation still works */ }
      }

      function select(m, r, c) {
        state.m = clamp(m, 0, Math.max(0, d.methods.length - 1));
        state.r = clamp(r, 0, Math.max(0, d.rows.length - 1));
        state.c = clamp(c, 0, Math.max(0, d.columns.length - 1));
        render();
      }

      function fromHash() {
        var h = {};
        location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
          var p = kv.split("=");
          if (p.length === 2) h[p[0]] = parseInt(p[1], 10);
        });
        select(isFinite(h.m) ? h.m - 1 : 0, isFinite(h.r) ? h.r : 0, isFinite(h.c) ? h.c : 0);
      }

      document.addEventListener("keydown", function (e) {
        if (e.altKey || e.ctrlKey || e.metaKey) return;
        var handled = true;
        switch (e.key) {
          case "ArrowUp": case "k": select(state.m, state.r - 1, state.c); break;
          case "ArrowDown": case "j": select(state.m, state.r + 1, state.c); break;
          case "ArrowLeft": case "h": select(state.m, state.r, state.c - 1); break;
          case "ArrowRight": case "l": select(state.m, state.r, state.c + 1); break;
          case "Home": select(state.m, 0, state.c); break;
          case "End": select(state.m, d.rows.length - 1, state.c); break;
          default:
            if (/^[1-9]$/.test(e.key) && Number(e.key) <= d.methods.length) {
              select(Number(e.key) - 1, state.r, state.c);
            } else {
              handled = false;
            }
        }
        if (handled) e.preventDefault();
      });

      buildStatic();
      fromHash();
    })();
    </script>
    </body>
    </html>

    """#
}
