// The status page's script (served from /ui/assets/status.js; the CSP allows no inline script).
// It polls the JSON routes every 2 s and follows /v1/events; it holds no token: the browser sends
// the Basic credentials it logged in with to this same origin.
(function () {
  'use strict';

  var REFRESH_MS = 2000;
  var MAX_EVENTS = 100;
  var params = new URLSearchParams(location.search);
  var account = params.get('account');
  var api = account ? '/v1/accounts/' + encodeURIComponent(account) : '/v1';
  var canOperate = false;
  var charts = {};
  var lastBatches = [];

  function $(id) { return document.getElementById(id); }

  /** An element with text (never HTML: every value comes from data). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
    });
    return node;
  }

  function getJson(path) {
    return fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error(path + ' answered ' + response.status);
      return response.json();
    });
  }

  function postJson(path, body) {
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, credentials: 'same-origin', body: JSON.stringify(body) })
      .then(function (response) {
        return response.json().then(function (json) {
          if (!response.ok) throw new Error(json.message || path + ' answered ' + response.status);
          return json;
        });
      });
  }

  function time(iso) { return iso ? new Date(iso).toLocaleTimeString() : '–'; }

  function age(seconds) {
    if (!seconds) return '0 s';
    if (seconds < 120) return seconds.toFixed(1) + ' s';
    if (seconds < 7200) return Math.round(seconds / 60) + ' min';
    return (seconds / 3600).toFixed(1) + ' h';
  }

  function figure(name, field, value) {
    return [el('dt', {}, [name]), el('dd', { 'data-field': field }, [value])];
  }

  // ---- operations: figures, hold, chart -------------------------------------------------------

  function operationCard(op) {
    var card = $('op-' + op);
    if (card) return card;
    card = el('section', { id: 'op-' + op, class: 'card', 'data-op': op }, [
      el('h2', {}, [op]),
      el('dl', { class: 'figures' }),
      el('div', { class: 'hold-slot' }),
      el('h3', {}, ['calls per second, last 15 minutes']),
      el('div', { class: 'chart' }),
    ]);
    $('operations').append(card);
    return card;
  }

  function renderOperation(row) {
    var card = operationCard(row.operation);
    var figures = card.querySelector('.figures');
    figures.replaceChildren.apply(figures, [].concat(
      figure('waiting', 'waiting', row.waiting),
      figure('active', 'active', row.active),
      figure('delayed', 'delayed', row.delayed),
      figure('oldest waiting', 'oldest-age', age(row.oldestWaitingAgeSeconds)),
      figure('applied', 'applied', row.applied),
      figure('already applied', 'already-applied', row.alreadyApplied),
      figure('dead letters', 'dead-lettered', row.deadLettered),
      figure('rate now / quota', 'rate', row.currentRate + ' / ' + row.configuredRate),
      figure('calls last minute', 'calls-last-minute', row.callsLastMinute)
    ));
    card.querySelector('.hold-slot').replaceChildren(holdBlock(row));
  }

  function holdBlock(row) {
    var processes = row.heldProcesses.length > 0 ? el('p', { 'data-field': 'held-processes' }, [row.heldProcesses.length + ' process(es) hold themselves: ' + row.heldProcesses.map(function (p) { return p.process + ' (' + p.code + ')'; }).join(', ')]) : null;
    var hold = row.hold;
    if (!hold) return el('div', {}, [el('p', { class: 'running', 'data-field': 'hold-reason' }, ['running: no hold']), processes]);
    return el('div', { class: 'hold', 'data-field': 'hold' }, [
      el('strong', {}, ['held: ']), el('span', { 'data-field': 'hold-reason' }, [hold.reason]),
      el('dl', {}, [
        el('dt', {}, ['code']), el('dd', { 'data-field': 'hold-code' }, [hold.code]),
        el('dt', {}, ['message']), el('dd', {}, [hold.message]),
        el('dt', {}, ['example']), el('dd', { 'data-field': 'hold-target' }, [hold.target || '–']),
        el('dt', {}, ['since']), el('dd', {}, [time(hold.since) + ' (' + hold.calls + ' failed calls)']),
        el('dt', {}, ['next probe']), el('dd', {}, [hold.nextProbeAt ? time(hold.nextProbeAt) : hold.until ? 'bans retried at ' + time(hold.until) : 'none (manual)']),
        el('dt', {}, ['lift it']), el('dd', {}, [el('code', { 'data-field': 'hold-resume' }, [hold.resume])]),
      ]),
      processes,
    ]);
  }

  function renderChart(op, quota, series) {
    var card = operationCard(op);
    var xs = series.map(function (p) { return p[0]; });
    var data = [xs, series.map(function (p) { return p[1]; }), xs.map(function () { return quota; })];
    card.setAttribute('data-calls-total', String(data[1].reduce(function (a, b) { return a + b; }, 0)));
    if (charts[op]) { charts[op].setData(data); return; }
    var box = card.querySelector('.chart');
    charts[op] = new uPlot({
      width: Math.max(240, box.clientWidth), height: 180,
      scales: { y: { range: function (_u, _min, max) { return [0, Math.max(max, quota) * 1.1]; } } },
      series: [{}, { label: 'calls/s', stroke: '#2f6fdb', fill: 'rgba(47,111,219,0.12)' }, { label: 'quota', stroke: '#b3261e', dash: [6, 4], points: { show: false } }],
      axes: [{}, { size: 40 }],
    }, data, box);
    new ResizeObserver(function () { charts[op].setSize({ width: Math.max(240, box.clientWidth), height: 180 }); }).observe(box);
  }

  // ---- blacklist, dead letters -----------------------------------------------------------------

  function renderBlacklist(rows) {
    var row = rows.find(function (r) { return r.blacklist !== undefined; });
    var b = row && row.blacklist;
    var set = function (field, value) { document.querySelector('[data-field="' + field + '"]').textContent = value; };
    if (!b) { set('blacklist-entries', 'never read'); return; }
    var meter = $('blacklist-meter');
    meter.max = b.cap; meter.high = b.cap * 0.95; meter.low = b.cap * 0.8; meter.value = b.entries;
    set('blacklist-entries', b.entries); set('blacklist-cap', b.cap); set('blacklist-headroom', b.headroom);
    set('blacklist-permanent', b.permanentBans); set('blacklist-checked', time(b.checkedAt));
  }

  function renderDeadLetters(dead) {
    document.querySelector('[data-field="dead-total"]').textContent = '(' + dead.total + ')';
    $('dead-letters').replaceChildren.apply($('dead-letters'), dead.byCode.map(function (g) {
      return el('tr', {}, [el('td', {}, [g.operation]), el('td', {}, [g.code]), el('td', { class: 'num' }, [g.count])]);
    }));
    $('dead-partial').hidden = !dead.partial;
  }

  // ---- batches, with cancel and undo for an operate token ---------------------------------------

  function progressOf(b) { return b.applied + b.alreadyApplied + b.deadLettered + b.cancelled; }

  function renderBatches(batches) {
    lastBatches = batches;
    $('batches').replaceChildren.apply($('batches'), batches.map(function (b) {
      var done = progressOf(b);
      return el('tr', { 'data-batch': b.batch }, [
        el('td', {}, [el('code', {}, [b.batch])]),
        el('td', {}, [b.operation]),
        el('td', { 'data-field': 'actor' }, [b.by ? b.by.actor + (b.by.reason ? ' — ' + b.by.reason : '') : '–']),
        el('td', {}, [time(b.createdAt)]),
        el('td', { class: 'num' }, [el('progress', { max: String(Math.max(1, b.jobs)), value: String(done) }), ' ', el('span', { 'data-field': 'progress' }, [done + ' / ' + b.jobs]),
          el('div', { class: 'muted' }, [b.applied + ' applied, ' + b.alreadyApplied + ' already, ' + b.deadLettered + ' dead, ' + b.cancelled + ' cancelled' + (b.undoBy ? '; undo by ' + b.undoBy.actor : '')])]),
        el('td', { class: 'num', 'data-field': 'pending' }, [b.pending]),
        el('td', {}, canOperate ? batchButtons(b) : []),
      ]);
    }));
  }

  function batchButtons(b) {
    var buttons = [];
    if (b.pending > 0) buttons.push(button('cancel', b));
    if (b.operation === 'ForbidLiveStream' && b.appliedBans + b.pending > 0) buttons.push(button('undo', b));
    return buttons;
  }

  function button(action, b) {
    var node = el('button', { type: 'button', class: 'danger', 'data-action': action }, [action]);
    node.addEventListener('click', function () { confirmAction(action, b.batch); });
    return node;
  }

  function confirmAction(action, id) {
    var b = lastBatches.find(function (x) { return x.batch === id; });
    if (!b) return;
    var lines = [b.pending + ' pending job(s) of ' + b.jobs + ' would be cancelled (jobs a worker has taken finish)'];
    if (action === 'undo') lines.push('up to ' + Math.max(0, b.appliedBans - b.undoClaimed) + ' applied ban(s) would be lifted (ResumeLiveStream), of ' + b.appliedBans + ' applied');
    $('confirm-title').textContent = (action === 'undo' ? 'Undo' : 'Cancel') + ' batch ' + id + '?';
    $('confirm-body').replaceChildren.apply($('confirm-body'), lines.map(function (line) { return el('li', {}, [line]); }));
    $('confirm-result').textContent = '';
    var ok = $('confirm-ok');
    ok.textContent = action === 'undo' ? 'Undo the batch' : 'Cancel pending jobs';
    ok.disabled = false;
    ok.onclick = function () {
      ok.disabled = true;
      postJson(api + '/batches/' + encodeURIComponent(id) + '/' + action, {}).then(function (result) {
        $('confirm-result').textContent = action + ': ' + JSON.stringify(result);
        refresh();
      }, function (error) { $('confirm-result').textContent = String(error.message || error); ok.disabled = false; });
    };
    $('confirm').showModal();
  }

  // ---- audit events ---------------------------------------------------------------------------

  function addEvent(kind, data) {
    var what = kind === 'outcome'
      ? [data.operation, data.outcome + (data.code ? ' ' + data.code : ''), data.stream || data.monitorId || '']
      : ['batch done', data.batch, JSON.stringify(data.counts)];
    var item = el('li', { 'data-event': kind }, [time(data.at) + '  ' + what.join('  ') + (data.batch && kind === 'outcome' ? '  batch ' + data.batch : '') + (data.actor ? '  by ' + data.actor : '')]);
    var list = $('events');
    list.prepend(item);
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  }

  function followEvents() {
    var source = new EventSource(api + '/events');
    source.addEventListener('outcome', function (e) { addEvent('outcome', JSON.parse(e.data)); });
    source.addEventListener('batch.done', function (e) { addEvent('batch.done', JSON.parse(e.data)); });
    source.onopen = function () { $('events-state').textContent = '(live)'; };
    source.onerror = function () { $('events-state').textContent = '(reconnecting)'; };
  }

  // ---- refresh --------------------------------------------------------------------------------

  function renderAccounts(overview) {
    $('account').textContent = 'account ' + overview.account;
    if (overview.accounts.length < 2) return;
    var select = $('account-select');
    if (select.children.length === 0) {
      overview.accounts.forEach(function (name) { select.append(el('option', { value: name }, [name])); });
      select.addEventListener('change', function () { location.search = '?account=' + encodeURIComponent(select.value); });
    }
    select.value = overview.account;
    $('account-choice').hidden = false;
  }

  function refresh() {
    return Promise.all([getJson(api + '/overview'), getJson(api + '/calls'), getJson(api + '/batches')]).then(function (answers) {
      var overview = answers[0];
      renderAccounts(overview);
      overview.operations.forEach(renderOperation);
      answers[1].operations.forEach(function (o) { renderChart(o.operation, o.quota, o.series); });
      renderBlacklist(overview.operations);
      renderDeadLetters(overview.deadLetters);
      renderBatches(answers[2].batches);
      $('error').hidden = true;
      $('updated').textContent = 'updated ' + time(overview.at);
      document.body.setAttribute('data-refreshed', overview.at);
    }).catch(function (error) {
      $('error').textContent = 'refresh failed: ' + (error.message || error);
      $('error').hidden = false;
    });
  }

  function loop() { refresh().then(function () { setTimeout(loop, REFRESH_MS); }); }

  $('confirm-back').addEventListener('click', function () { $('confirm').close(); });
  getJson('/v1/whoami').then(function (me) {
    canOperate = me.scopes.indexOf('operate') >= 0;
    $('whoami').textContent = me.actor + ' (' + me.scopes.join(', ') + ')';
  }).catch(function () { /* buttons stay hidden */ }).then(function () {
    loop();
    followEvents();
  });
})();
