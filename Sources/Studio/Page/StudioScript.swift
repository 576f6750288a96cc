extension StudioPage {
  /// The script: tabs, editor, live view, plots; one WebSocket for all pushes.
  static let script = #"""
    // clipig studio page: tabs of experiments, a YAML editor checked as you type, live image,
    // statistics, plots and the parameters table, all pushed by the server over one WebSocket.
    'use strict';
    (function () {
      var token = document.body.dataset.token;
      var tabs = {};        // id -> {summary, history, text, dirty, snapshots}
      var order = [];
      var current = null;
      var socket = null;
      var checkTimer = null;
      var colors = ['#6cf', '#fc6', '#f6a', '#8e8', '#c9f', '#fa8', '#7dd', '#ee7'];

      function $(id) { return document.getElementById(id); }

      function api(action, body) {
        return fetch('/api/' + action + '?token=' + token, {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body)
        }).then(function (r) {
          return r.json().then(function (j) { j.httpStatus = r.status; return j; });
        });
      }

      // ---- editor -------------------------------------------------------------------------

      // errorLines: the lines to mark (one number, a list, or null).
      function renderGutter(errorLines) {
        var marked = [].concat(errorLines || []);
        var n = $('yaml').value.split('\n').length;
        var out = [];
        for (var i = 1; i <= n; i++) {
          out.push(marked.indexOf(i) >= 0 ? '<span class="error">' + i + '</span>' : String(i));
        }
        $('gutter').innerHTML = out.join('\n') + '\n';
        $('gutter').scrollTop = $('yaml').scrollTop;
      }

      function showError(error) {
        var line = $('error-line');
        var t = current && tabs[current];
        if (t) { t.error = error || null; }
        if (!error) {
          line.textContent = '';
          line.className = '';
          line.dataset.line = '';
          line.dataset.column = '';
          renderGutter(null);
          return;
        }
        line.className = 'error';
        line.dataset.line = error.line || '';
        line.dataset.column = error.column || '';
        var all = [error].concat(error.others || []);
        line.textContent = all.map(function (e) {
          return (e.line ? 'line ' + e.line + ', column ' + e.column + ': ' : '') + e.message;
        }).join('\n');
        renderGutter(errorLines(error));
      }

      function errorLines(error) {
        if (!error) { return null; }
        return [error].concat(error.others || []).map(function (e) { return e.line; })
          .filter(function (l) { return l; });
      }

      function jumpTo(line, column) {
        var lines = $('yaml').value.split('\n');
        var offset = 0;
        for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
        offset += Math.max(0, (column || 1) - 1);
        $('yaml').focus();
        $('yaml').setSelectionRange(offset, offset + 1);
      }

      function scheduleCheck() {
        clearTimeout(checkTimer);
        var id = current;
        checkTimer = setTimeout(function () {
          api('check', { tab: id, yaml: tabs[id].text }).then(function (r) {
            if (id !== current) { return; }
            showError(r.error || null);
          });
        }, 300);
      }

      $('yaml').addEventListener('input', function () {
        var t = tabs[current];
        if (!t) { return; }
        t.text = $('yaml').value;
        t.dirty = true;
        renderGutter(errorLines(t.error));
        scheduleCheck();
      });
      $('yaml').addEventListener('scroll', function () { $('gutter').scrollTop = $('yaml').scrollTop; });
      $('yaml').addEventListener('keydown', function (e) {
        if (e.key === 'Tab') {
          e.preventDefault();
          var a = this.selectionStart;
          this.setRangeText('  ', a, this.selectionEnd, 'end');
          this.dispatchEvent(new Event('input'));
        }
      });
      $('error-line').addEventListener('click', function () {
        if (this.dataset.line) { jumpTo(+this.dataset.line, +this.dataset.column); }
      });

      // ---- tabs ---------------------------------------------------------------------------

      function renderTabs() {
        var nav = $('tabs');
        nav.innerHTML = '';
        order.forEach(function (id) {
          var t = tabs[id];
          var b = document.createElement('button');
          b.textContent = t.summary.name;
          b.dataset.tab = id;
          var s = t.summary.status;
          if (s !== 'idle') {
            var badge = document.createElement('span');
            badge.className = 'badge';
            badge.textContent = s === 'queued' ? 'waiting #' + t.summary.queuePosition : s;
            b.appendChild(badge);
          }
          if (id === current) { b.className = 'current'; }
          b.addEventListener('click', function () { select(id); });
          nav.appendChild(b);
        });
      }

      function select(id) {
        current = id;
        var t = tabs[id];
        $('yaml').value = t.text;
        showError(t.error || t.summary.error || null);
        $('views').innerHTML = '';
        renderTabs();
        renderAll();
      }

      function upsert(summary, withHistory) {
        var t = tabs[summary.id];
        if (!t) {
          t = tabs[summary.id] = { text: summary.yaml, dirty: false, history: [], snapshots: 0 };
          order.push(summary.id);
        }
        t.summary = summary;
        if (!t.dirty) { t.text = summary.yaml; }
        if (withHistory) { t.history = summary.history || []; }
        return t;
      }

      // ---- live view ----------------------------------------------------------------------

      function zoom() { return Math.max(1, Math.min(500, +$('zoom').value || 100)) / 100; }

      function renderImage() {
        var t = tabs[current];
        var img = $('live');
        var url = t && t.summary.snapshot;
        if (!url) { img.removeAttribute('src'); $('tiles').style.backgroundImage = ''; return; }
        if (img.getAttribute('src') !== url) { img.setAttribute('src', url); }
        layoutImage();
      }

      function layoutImage() {
        var img = $('live');
        var tiles = $('tiles');
        var w = img.naturalWidth, h = img.naturalHeight;
        if (!w) { return; }
        var z = zoom();
        var n = Math.max(1, Math.min(10, Math.round(+$('repeat').value || 1)));
        var pixelated = z >= 2 ? 'pixelated' : '';
        img.className = pixelated;
        tiles.className = pixelated;
        img.style.width = (w * z) + 'px';
        img.style.height = (h * z) + 'px';
        if (n > 1) {
          img.style.visibility = 'hidden';
          tiles.style.backgroundImage = 'url("' + img.src + '")';
          tiles.style.backgroundSize = (w * z) + 'px ' + (h * z) + 'px';
          tiles.style.width = (n * w * z) + 'px';
          tiles.style.height = (n * h * z) + 'px';
        } else {
          img.style.visibility = 'visible';
          tiles.style.backgroundImage = '';
          tiles.style.width = (w * z) + 'px';
          tiles.style.height = (h * z) + 'px';
        }
      }

      $('live').addEventListener('load', layoutImage);
      $('zoom').addEventListener('input', function () { $('zoom-number').value = this.value; layoutImage(); });
      $('zoom-number').addEventListener('input', function () { $('zoom').value = this.value; layoutImage(); });
      $('zoom-100').addEventListener('click', function () {
        $('zoom').value = 100; $('zoom-number').value = 100; layoutImage();
      });
      $('repeat').addEventListener('input', layoutImage);

      // ---- statistics, plots, parameters --------------------------------------------------

      function fixed(x, d) { return x === null || x === undefined ? '–' : x.toFixed(d); }

      function renderStats() {
        var t = tabs[current];
        var s = t.summary;
        var st = s.statistics;
        document.body.dataset.status = s.status;
        document.body.dataset.epoch = st ? st.epoch : '';
        $('status').textContent = s.status === 'queued' ? 'waiting (#' + s.queuePosition + ')' : s.status;
        $('seed').textContent = s.seed || '–';
        $('start').disabled = s.status === 'running' || s.status === 'queued';
        $('stop').disabled = !(s.status === 'running' || s.status === 'queued');
        $('save').disabled = !s.snapshot;
        if (!st) {
          ['epoch', 'rate', 'split', 'loss', 'size'].forEach(function (k) { $(k).textContent = '–'; });
          $('similarities').textContent = '';
          $('progress').value = 0;
          return;
        }
        $('epoch').textContent = (st.epoch + 1) + ' / ' + st.epochs;
        $('progress').value = (st.epoch + 1) / st.epochs;
        $('rate').textContent = fixed(st.epochsPerSecond, 2);
        var share = st.seconds > 0 ? st.clipSeconds / st.seconds : 0;
        $('split').textContent = Math.round(share * 100) + ' % of ' + fixed(st.seconds * 1000, 0) + ' ms/epoch';
        $('loss').textContent = fixed(st.loss, 4);
        $('size').textContent = st.width + '×' + st.height;
        var parts = [];
        (s.targets || []).forEach(function (name, ti) {
          var v = (st.similarities[ti] || []).filter(function (x) { return x !== null; });
          if (v.length) { parts.push(name + ' ' + v.map(function (x) { return x.toFixed(2); }).join('/')); }
        });
        $('similarities').textContent = parts.join('  ');
      }

      function plot(canvas, series, label) {
        var ctx = canvas.getContext('2d');
        var W = canvas.width = canvas.clientWidth || 400, H = canvas.height = canvas.clientHeight || 130;
        ctx.clearRect(0, 0, W, H);
        var lo = Infinity, hi = -Infinity, e0 = Infinity, e1 = -Infinity;
        series.forEach(function (s) {
          s.points.forEach(function (p) {
            if (p[1] === null) { return; }
            lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]);
            e0 = Math.min(e0, p[0]); e1 = Math.max(e1, p[0]);
          });
        });
        ctx.fillStyle = '#888';
        ctx.font = '11px sans-serif';
        ctx.fillText(label, 6, 12);
        if (!(hi >= lo)) { return; }
        if (hi === lo) { hi = lo + 1; }
        if (e1 === e0) { e1 = e0 + 1; }
        ctx.fillText(hi.toPrecision(4), W - 56, 12);
        ctx.fillText(lo.toPrecision(4), W - 56, H - 4);
        series.forEach(function (s, i) {
          ctx.strokeStyle = s.color;
          ctx.beginPath();
          var started = false;
          s.points.forEach(function (p) {
            if (p[1] === null) { started = false; return; }
            var x = 4 + (p[0] - e0) / (e1 - e0) * (W - 64);
            var y = H - 6 - (p[1] - lo) / (hi - lo) * (H - 22);
            if (started) { ctx.lineTo(x, y); } else { ctx.moveTo(x, y); started = true; }
          });
          ctx.stroke();
          if (s.name) { ctx.fillStyle = s.color; ctx.fillText(s.name, 60 + i * 90, 12); }
        });
      }

      function renderPlots() {
        var t = tabs[current];
        var h = t.history;
        plot($('plot-loss'), [{ color: '#f88', points: h.map(function (p) { return [p.epoch, p.loss]; }) }],
          'loss');
        var names = t.summary.targets || [];
        plot($('plot-similarity'), names.map(function (name, ti) {
          return {
            name: name, color: colors[ti % colors.length],
            points: h.map(function (p) { return [p.epoch, p.similarities[ti]]; })
          };
        }), 'similarity');
      }

      function renderParameters() {
        var body = $('parameters').tBodies[0];
        body.innerHTML = '';
        (tabs[current].summary.parameters || []).forEach(function (p) {
          var tr = document.createElement('tr');
          [p.path, p.expression, p.value].forEach(function (v) {
            var td = document.createElement('td');
            td.textContent = v;
            tr.appendChild(td);
          });
          body.appendChild(tr);
        });
      }

      function renderLog() {
        var log = $('log');
        log.textContent = (tabs[current].summary.log || []).join('\n');
        log.scrollTop = log.scrollHeight;
      }

      function renderAll() {
        if (!current) { return; }
        renderStats(); renderImage(); renderPlots(); renderParameters(); renderLog();
      }

      // ---- buttons ------------------------------------------------------------------------

      function act(action) {
        var id = current;
        var t = tabs[id];
        var body = { tab: id };
        if (action === 'start' || action === 'update') { body.yaml = t.text; }
        return api(action, body).then(function (r) {
          if (r.error) {
            if (id === current) {
              showError(r.error);
              if (r.error.line) { jumpTo(r.error.line, r.error.column); }
            }
            return;
          }
          if (action === 'start' || action === 'update') { t.dirty = false; showError(null); }
        });
      }

      $('start').addEventListener('click', function () { act('start'); });
      $('update').addEventListener('click', function () { act('update'); });
      $('stop').addEventListener('click', function () { act('stop'); });
      $('save').addEventListener('click', function () { act('save'); });
      $('new-tab').addEventListener('click', function () {
        api('tabs', { name: 'experiment-' + (order.length + 1) + '.yaml' }).then(function (r) {
          if (r.tab) { pendingSelect = r.tab; if (tabs[r.tab]) { select(r.tab); } }
        });
      });
      var pendingSelect = null;
      $('show-views').addEventListener('click', function () {
        var id = current;
        api('views', { tab: id }).then(function (r) {
          var box = $('views');
          box.innerHTML = '';
          if (r.error) { showError(r.error); return; }
          r.views.forEach(function (url) {
            var img = document.createElement('img');
            img.src = url;
            box.appendChild(img);
          });
          (r.masks || []).forEach(function (m) {
            var img = document.createElement('img');
            img.src = m.image;
            img.className = 'mask';
            img.title = 'mask of ' + m.target + ' (white: may change)';
            box.appendChild(img);
          });
        });
      });

      // ---- socket -------------------------------------------------------------------------

      function handle(m) {
        if (m.type === 'tabs') {
          m.tabs.forEach(function (s) { upsert(s, true); });
          if (!current && order.length) { select(order[0]); } else { renderTabs(); renderAll(); }
          return;
        }
        if (m.type === 'tab') {
          upsert(m.summary, false);
          if (pendingSelect === m.tab) { pendingSelect = null; select(m.tab); return; }
          if (!current) { select(m.tab); return; }
          renderTabs();
          if (m.tab === current) { renderAll(); }
          return;
        }
        var t = tabs[m.tab];
        if (!t) { return; }
        if (m.type === 'progress') {
          if (m.points.length && t.history.length
              && m.points[0].epoch <= t.history[t.history.length - 1].epoch) {
            t.history = t.history.filter(function (p) { return p.epoch < m.points[0].epoch; });
          }
          t.history = t.history.concat(m.points);
          t.summary.statistics = m.statistics;
          t.summary.parameters = m.parameters;
          if (m.tab === current) { renderStats(); renderPlots(); renderParameters(); }
        } else if (m.type === 'snapshot') {
          t.summary.snapshot = m.image;
          t.snapshots += 1;
          if (m.tab === current) {
            document.body.dataset.snapshots = String(t.snapshots);
            renderImage();
            $('save').disabled = false;
          }
        } else if (m.type === 'log') {
          t.summary.log = (t.summary.log || []).concat([m.text]);
          if (m.tab === current) { renderLog(); }
        } else if (m.type === 'error') {
          t.summary.error = m.error;
          if (m.tab === current) { showError(m.error); }
        }
      }

      function connect() {
        var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
        socket = new WebSocket(scheme + location.host + '/ws?token=' + token);
        socket.onopen = function () {
          $('connection').textContent = 'connected';
          $('connection').className = '';
        };
        socket.onmessage = function (e) { handle(JSON.parse(e.data)); };
        socket.onclose = function () {
          $('connection').textContent = 'disconnected, retrying…';
          $('connection').className = 'down';
          setTimeout(connect, 1000);
        };
      }

      window.addEventListener('resize', function () { if (current) { renderPlots(); } });
      connect();
    })();
    """#
}
