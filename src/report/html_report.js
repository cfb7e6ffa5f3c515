// html_report.js — draws the Smaragdine HTML report from the JSON that
// html.cpp embeds in <script id="smg-data">. Everything is built here, in the
// browser, from that data: the summary, the node table (sortable, filterable,
// a collapsible tree), the flame graph, the charts and the module graphs.
// Names come from traces, so text is always set with textContent, never parsed
// as markup; only the SVGs the report itself rendered are inserted as markup.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('smg-data').textContent);

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  // Four significant digits, fixed notation: the text reports' rule.
  function sig4(v) {
    if (v === null || v === undefined || !isFinite(v)) return '';
    if (v === 0) return '0';
    var exp = Math.floor(Math.log10(Math.abs(v)));
    var dec = Math.min(Math.max(3 - exp, 0), 9);
    var s = v.toFixed(dec);
    if (/^-[0.]*$/.test(s)) s = s.slice(1);
    return s;
  }
  // Two significant digits for the half-width of an interval (report_text::Sig2).
  function sig2(v) {
    if (v === null || v === undefined || !isFinite(v)) return '';
    if (v === 0) return '0';
    var exp = Math.floor(Math.log10(Math.abs(v)));
    var dec = Math.min(Math.max(1 - exp, 0), 9);
    var s = v.toFixed(dec);
    if (dec > 0 && Math.abs(Number(s)) >= Math.pow(10, exp + 1)) s = v.toFixed(dec - 1);
    return s;
  }
  function fmtCell(col, v) {
    if (v === null || v === undefined) return '';
    switch (col.fmt) {
      case 'pct': return isFinite(v) ? (v * 100).toFixed(1) : '';
      case 'ms': return sig4(v / 1e6);
      case 'int': return String(v);
      case 'pm': return '± ' + sig2(v);
      case 'signed': var s = sig4(v); return v > 0 && /[1-9]/.test(s) ? '+' + s : s;
      case 'ratio': return isFinite(v) ? v.toFixed(3) + '×' : 'n/a';
      case 'text': return String(v);
      default: return sig4(v);
    }
  }

  // Inserts an SVG the report rendered, then re-creates its <script> elements:
  // scripts inserted as markup do not run, re-created ones do (the flame
  // graph's zoom and search live in such a script).
  function insertSvg(container, svgText) {
    container.innerHTML = svgText;
    Array.prototype.forEach.call(container.querySelectorAll('script'), function (old) {
      var s = document.createElement('script');
      s.textContent = old.textContent;
      old.parentNode.replaceChild(s, old);
    });
    var svg = container.querySelector('svg');
    if (svg) svg.classList.add('smg-svg');
    return svg;
  }

  // ---- summary ----
  function renderSummary() {
    var box = document.getElementById('smg-summary');
    data.profiles.forEach(function (p) {
      var sec = el('div', {cls: 'smg-card'});
      if (data.profiles.length > 1) sec.appendChild(el('h3', {text: p.label}));
      var dl = el('dl', {cls: 'smg-meta'});
      p.meta.forEach(function (kv) {
        dl.appendChild(el('dt', {text: kv[0]}));
        dl.appendChild(el('dd', {text: kv[1]}));
      });
      sec.appendChild(dl);
      // Say plainly when the joules are not a measurement.
      var simulated = p.domains.some(function (d) { return d.source === 'simulated'; });
      var badge = el('span', {cls: p.modeled || simulated ? 'smg-badge smg-modeled' : 'smg-badge smg-measured',
                              text: p.modeled ? 'MODELED: some energy is estimated from CPU time, not measured'
                                  : simulated ? 'SIMULATED: energy from smaragdine simulate, not measured'
                                              : 'measured'});
      sec.appendChild(badge);
      var t = el('table', {cls: 'smg-domains'});
      var hasOther = p.domains.some(function (d) { return d.other_j > 0; });
      var heads = ['domain', 'device', 'source', 'measured J', 'idle J', 'idle %'];
      if (hasOther) heads.push('other processes J');
      heads.push('baseline W');
      t.appendChild(el('thead', null, [el('tr', null, heads.map(function (h) { return el('th', {text: h}); }))]));
      var tb = el('tbody');
      p.domains.forEach(function (d) {
        var cells = [d.name + (d.modeled ? ' (modeled)' : ''), d.device, d.source, sig4(d.measured_j),
                     sig4(d.idle_j), d.measured_j > 0 ? (100 * d.idle_j / d.measured_j).toFixed(1) : ''];
        if (hasOther) cells.push(sig4(d.other_j));
        cells.push(d.baseline_w === null ? '' : sig4(d.baseline_w));
        tb.appendChild(el('tr', null, cells.map(function (c, i) {
          return el('td', {text: c, cls: i >= 3 ? 'num' : ''});
        })));
      });
      t.appendChild(tb);
      sec.appendChild(t);
      var counts = Object.keys(p.diagnostics.counts);
      if (counts.length || p.diagnostics.warnings.length) {
        var diag = el('div', {cls: 'smg-diag'}, [el('h4', {text: 'Diagnostics'})]);
        var ul = el('ul');
        counts.forEach(function (k) { ul.appendChild(el('li', {text: k + ': ' + p.diagnostics.counts[k]})); });
        p.diagnostics.warnings.forEach(function (w) { ul.appendChild(el('li', {cls: 'smg-warn', text: 'warning: ' + w})); });
        diag.appendChild(ul);
        sec.appendChild(diag);
      }
      box.appendChild(sec);
    });
    if (data.diff_summary) {
      var dl2 = el('dl', {cls: 'smg-meta smg-card'});
      data.diff_summary.forEach(function (kv) {
        dl2.appendChild(el('dt', {text: kv[0]}));
        dl2.appendChild(el('dd', {text: kv[1]}));
      });
      box.appendChild(dl2);
    }
  }

  // ---- the node table: a tree whose siblings follow the sort column ----
  var table = data.table;
  var rows = table.rows;  // [id, parent, name, path, cells...]
  var byId = {};
  var kids = {};
  rows.forEach(function (r) {
    byId[r[0]] = r;
    var parent = r[1] === null || byId[r[1]] === undefined ? -1 : r[1];
    (kids[parent] = kids[parent] || []).push(r[0]);
  });
  var expanded = {};
  var sortCol = table.sort_column, sortDesc = true;
  var filterText = '';
  var selected = data.selected;

  function initialExpansion() {
    // Open the first levels, as the text report's default depth does.
    (function walk(id, depth) {
      (kids[id] || []).forEach(function (c) {
        if (depth + 1 < table.open_depth) expanded[c] = true;
        walk(c, depth + 1);
      });
    })(-1, 0);
    // And the way down to the selected node.
    for (var id = selected; id !== undefined && id !== null && byId[id]; id = byId[id][1]) expanded[id] = true;
  }

  function sortValue(id) {
    var r = byId[id];
    if (sortCol < 0) return r[2].toLowerCase();
    var v = r[4 + sortCol];
    if (typeof v !== 'number' || !isFinite(v)) return -Infinity;
    // Differences sort by size, gains and losses alike (as the text diff does).
    return table.columns[sortCol].abs ? Math.abs(v) : v;
  }
  function sortedKids(id) {
    var list = (kids[id] || []).slice();
    list.sort(function (a, b) {
      var x = sortValue(a), y = sortValue(b);
      if (x === y) return byId[a][2] < byId[b][2] ? -1 : byId[a][2] > byId[b][2] ? 1 : 0;
      return (x < y ? -1 : 1) * (sortDesc ? -1 : 1);
    });
    return list;
  }

  function matcher() {
    if (!filterText) return null;
    var m = /^\/(.*)\/$/.exec(filterText);
    if (m) {
      try { var re = new RegExp(m[1], 'i'); return function (s) { return re.test(s); }; }
      catch (e) { return function () { return false; }; }
    }
    var needle = filterText.toLowerCase();
    return function (s) { return s.toLowerCase().indexOf(needle) >= 0; };
  }

  function renderTable() {
    var tbody = document.getElementById('smg-rows');
    var match = matcher();
    // With a filter: the matching nodes and their ancestors, all open.
    var keep = null;
    if (match) {
      keep = {};
      rows.forEach(function (r) {
        if (!match(r[3])) return;
        for (var id = r[0]; id !== null && byId[id] && !keep[id]; id = byId[id][1]) keep[id] = true;
      });
    }
    var frag = document.createDocumentFragment();
    var shown = 0;
    (function walk(id, depth) {
      sortedKids(id).forEach(function (c) {
        if (keep && !keep[c]) return;
        var r = byId[c];
        var hasKids = (kids[c] || []).length > 0;
        var open = keep ? true : !!expanded[c];
        var toggle = el('span', {cls: 'smg-toggle', text: hasKids ? (open ? '▾' : '▸') : ''});
        if (hasKids && !keep) toggle.addEventListener('click', function (ev) {
          ev.stopPropagation();
          expanded[c] = !expanded[c];
          renderTable();
        });
        var nameCell = el('td', {cls: 'smg-name', title: r[3]}, [toggle, el('span', {text: r[2]})]);
        nameCell.style.paddingLeft = (0.3 + depth * 1.1) + 'em';
        var tr = el('tr', {'data-id': String(c), cls: 'smg-row' + (c === selected ? ' smg-selected' : '') +
                                                   (match && match(r[3]) ? ' smg-match' : '')}, [nameCell]);
        table.columns.forEach(function (col, i) {
          tr.appendChild(el('td', {cls: col.fmt === 'text' ? '' : 'num', text: fmtCell(col, r[4 + i])}));
        });
        tr.addEventListener('click', function () { select(c); });
        frag.appendChild(tr);
        ++shown;
        if (hasKids && open) walk(c, depth + 1);
      });
    })(-1, 0);
    tbody.textContent = '';
    tbody.appendChild(frag);
    document.getElementById('smg-count').textContent =
        shown + ' of ' + rows.length + ' nodes shown' + (match ? ' (filter: ' + filterText + ')' : '');
    Array.prototype.forEach.call(document.querySelectorAll('#smg-table th'), function (th) {
      var i = Number(th.getAttribute('data-col'));
      th.classList.toggle('smg-sorted', i === sortCol);
      th.setAttribute('data-dir', i === sortCol ? (sortDesc ? '▼' : '▲') : '');
    });
  }

  function renderTableFrame() {
    var head = el('tr');
    var cols = [{label: 'name', unit: ''}].concat(table.columns);
    cols.forEach(function (col, i) {
      var th = el('th', {'data-col': String(i - 1), title: col.help || '',
                         text: col.label + (col.unit ? ' ' + col.unit : '')});
      th.addEventListener('click', function () {
        var c = i - 1;
        if (sortCol === c) sortDesc = !sortDesc; else { sortCol = c; sortDesc = c >= 0; }
        renderTable();
      });
      head.appendChild(th);
    });
    document.getElementById('smg-head').appendChild(head);
    var input = document.getElementById('smg-filter');
    input.addEventListener('input', function () { filterText = input.value.trim(); renderTable(); });
    document.getElementById('smg-expand').addEventListener('click', function () {
      rows.forEach(function (r) { expanded[r[0]] = true; });
      renderTable();
    });
    document.getElementById('smg-collapse').addEventListener('click', function () {
      expanded = {};
      renderTable();
    });
  }

  // ---- module graphs ----
  function graphFor(id) {
    for (; id !== undefined && id !== null && byId[id] !== undefined; id = byId[id][1])
      if (data.graphs[id]) return id;
    return data.graphs[data.root] ? data.root : null;
  }
  function showGraph(id) {
    var box = document.getElementById('smg-graph');
    if (!box) return;
    var pick = document.getElementById('smg-graph-pick');
    var g = graphFor(id);
    if (g === null) {
      box.textContent = 'No module graph embedded for this scope.';
      return;
    }
    pick.value = String(g);
    var svg = insertSvg(box, data.graphs[g]);
    // Clicking a node of the graph selects that child in the table.
    Array.prototype.forEach.call(svg.querySelectorAll('g.node'), function (n) {
      var title = n.querySelector('title');
      var m = title && /^n(\d+)$/.exec(title.textContent);
      if (!m) return;
      n.style.cursor = 'pointer';
      n.addEventListener('click', function () { select(Number(m[1])); });
      if (Number(m[1]) === selected) n.classList.add('smg-graph-selected');
    });
  }
  function renderGraphPicker() {
    var pick = document.getElementById('smg-graph-pick');
    if (!pick) return;
    Object.keys(data.graphs).map(Number).sort(function (a, b) { return a - b; }).forEach(function (id) {
      var r = byId[id];
      pick.appendChild(el('option', {value: String(id), text: r ? (r[3] || '(root)') : '(root)'}));
    });
    pick.addEventListener('change', function () { select(Number(pick.value)); });
  }

  function select(id) {
    selected = id;
    for (var p = byId[id] ? byId[id][1] : null; p !== null && p !== undefined && byId[p]; p = byId[p][1])
      expanded[p] = true;
    renderTable();
    showGraph(id);
    var label = document.getElementById('smg-selected');
    if (label) label.textContent = byId[id] ? (byId[id][3] || '(root)') : '(root)';
  }

  // ---- flame graphs and charts ----
  function renderFigures(listId, figures) {
    var box = document.getElementById(listId);
    if (!box) return;
    figures.forEach(function (f) {
      var fig = el('figure', {cls: 'smg-figure'});
      var holder = el('div', {cls: 'smg-svg-holder'});
      fig.appendChild(holder);
      fig.appendChild(el('figcaption', {text: f.title}));
      box.appendChild(fig);
      insertSvg(holder, f.svg);
    });
    if (!figures.length) box.appendChild(el('p', {cls: 'smg-note', text: data.no_figures_note || 'Nothing to draw.'}));
  }

  try {
    renderSummary();
    renderTableFrame();
    initialExpansion();
    renderGraphPicker();
    renderTable();
    renderFigures('smg-flames', data.flames);
    renderFigures('smg-charts', data.charts);
    if (data.graph_note) document.getElementById('smg-graph-note').textContent = data.graph_note;
    if (data.selected !== null && data.selected !== undefined) select(data.selected);
    // For the browser test: #smg-selftest clicks the first flame graph's second
    // frame, so the test sees the flame graph's own script zoom inside this page.
    if (location.hash === '#smg-selftest') {
      var frame = document.querySelectorAll('#smg-flames g.fr')[1];
      if (frame) frame.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    }
    document.body.setAttribute('data-rendered', 'yes');
  } catch (e) {
    var box = document.getElementById('smg-error');
    box.hidden = false;
    box.textContent = 'The report could not be drawn: ' + e + '\n' + (e.stack || '');
    document.body.setAttribute('data-rendered', 'error');
  }
})();
