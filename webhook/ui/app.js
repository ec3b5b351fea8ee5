// The gate's read-only verdict dashboard. Every value shown comes from the JSON API
// (/api/v1) with the bearer token the user typed in, and is inserted as text
// (textContent, createElement, setAttribute of fixed names): never as markup. The
// page's Content-Security-Policy allows no inline script, so this file is all of it.
//
// The token is kept in sessionStorage: it survives a reload of the tab but not the
// tab itself, and no other tab or later session sees it. It is sent only in the
// Authorization header of requests to this origin's API.
'use strict';

(function () {
  const TOKEN_KEY = 'gate.dashboard.token';
  const API = new URL('../api/v1/', window.location.href);
  const PAGE_SIZE = 25;
  const TOP_LIMIT = 10;
  const DECISIONS = ['allow', 'warn', 'deny'];
  const OUTCOMES = ['pass', 'fail', 'warn', 'skip', 'error'];
  const EXPIRING_SOON_MS = 7 * 24 * 3600 * 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // The exception API (issue 7, part 2) is assumed to answer
  //   GET /api/v1/exceptions -> 200 {"items": [Exception, ...]}   (a bare JSON list is accepted too)
  // where an Exception is
  //   {"id": string, "findingId": string|null, "purl": string|null,
  //    "images": [glob]|null, "namespaces": [string]|null,
  //    "owner": string, "ticket": string|null, "reason": string,
  //    "expires": RFC 3339 time, "created": RFC 3339 time|null,
  //    "revoked": boolean, "revokedAt": RFC 3339 time|null}
  // ("finding" for "findingId", and a single string for "images"/"namespaces", are read too).
  // Until that API exists it answers 404 and the panel says so.
  const NO_EXCEPTION_API = [404, 405, 501];

  const state = {
    token: null,
    filters: {},
    cursor: null, // cursor of the page shown (null: the newest page)
    previous: [], // cursors of the pages before it
    next: null,
    refused: false,
    generation: 0,
  };

  // -- small DOM helpers: text only ------------------------------------------------

  const ATTRIBUTES = new Set(['id', 'type', 'title', 'colspan', 'scope', 'lang']);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    setProps(node, props);
    appendAll(node, children);
    return node;
  }

  function svg(tag, props, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined) continue;
      node.setAttribute(key, String(value));
    }
    appendAll(node, children);
    return node;
  }

  function setProps(node, props) {
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('data-') || ATTRIBUTES.has(key)) node.setAttribute(key, String(value));
      else throw new Error('attribute not allowed: ' + key);
    }
  }

  function appendAll(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function $(id) {
    return document.getElementById(id);
  }

  function setStatus(id, text, isError) {
    const node = $(id);
    node.textContent = text || '';
    node.classList.toggle('status-error', Boolean(isError));
  }

  function known(value, allowed) {
    return allowed.includes(value) ? value : 'unknown';
  }

  function badge(decision) {
    return el('span', { class: 'badge decision-' + known(decision, DECISIONS) }, String(decision));
  }

  function pad(number) {
    return String(number).padStart(2, '0');
  }

  // "2026-03-01 12:00:05 UTC"; a value that is not a time is shown as it came.
  function formatTime(text) {
    if (typeof text !== 'string') return '';
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) return text;
    return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  }

  function shortTime(date, bucket) {
    const day = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
    return bucket === 'day' ? day : `${day} ${pad(date.getUTCHours())}:00`;
  }

  // -- the API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ``refusing``: the statuses that mean the token itself is refused (the whole page
  // is cleared); a panel whose endpoint may need another scope passes only 401.
  async function api(path, params, refusing = [401, 403]) {
    const url = new URL(path, API);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, value);
    }
    let response;
    try {
      response = await fetch(url, {
        headers: { Authorization: 'Bearer ' + state.token, Accept: 'application/json' },
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiError(0, 'cannot reach the API: ' + error.message);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const reason = body && typeof body.error === 'string' ? body.error : response.statusText;
      const failure = new ApiError(response.status, reason);
      if (refusing.includes(response.status)) refuse(failure);
      throw failure;
    }
    if (body === null) throw new ApiError(response.status, 'the API answered something that is not JSON');
    return body;
  }

  // The token was refused: no data stays on the page, and the user is asked for another.
  function refuse(failure) {
    if (state.refused) return;
    state.refused = true;
    state.generation += 1;
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    clearData();
    const error = $('error');
    error.replaceChildren(
      el('strong', null, `Access refused: the API refused the token (${failure.status})`),
      ': ',
      el('span', { class: 'reason' }, failure.message),
      '. Enter a token with the read scope.',
    );
    error.hidden = false;
    showLogin();
  }

  function clearData() {
    for (const id of ['verdicts', 'top-images', 'top-findings']) $(id).tBodies[0].replaceChildren();
    for (const id of ['chart', 'chart-legend', 'exceptions', 'detail', 'page-info']) $(id).replaceChildren();
    for (const id of ['chart-status', 'top-images-status', 'top-findings-status', 'exceptions-status', 'verdicts-status', 'detail-status']) {
      setStatus(id, '');
    }
    $('detail-panel').hidden = true;
    $('dashboard').hidden = true;
  }

  function showLogin() {
    $('dashboard').hidden = true;
    $('forget').hidden = true;
    $('refresh').hidden = true;
    $('login').hidden = false;
    $('token').value = '';
    $('token').focus();
  }

  function showDashboard() {
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('forget').hidden = false;
    $('refresh').hidden = false;
  }

  // A panel's failure other than a refused token is shown in the panel itself.
  function failed(statusId, error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
    if (error instanceof ApiError && error.status) {
      setStatus(statusId, `The API answered ${error.status}: ${error.message}`, true);
    } else {
      setStatus(statusId, error.message, true);
    }
  }

  // -- filters --------------------------------------------------------------------------

  // datetime-local gives "YYYY-MM-DDTHH:MM[:SS]"; the page works in UTC.
  function utcParameter(value) {
    if (!value) return null;
    return (value.length === 16 ? value + ':00' : value) + 'Z';
  }

  // An image filter is a digest, a glob (has * or ?), or a part of the reference.
  function imageParameters(text) {
    const value = text.trim();
    if (!value) return {};
    if (/^sha(256|384|512):[0-9a-f]+$/.test(value)) return { digest: value };
    if (/[*?]/.test(value)) return { image: value };
    return { image: '**' + value + '**' };
  }

  function readFilters() {
    const filters = {
      namespace: $('f-namespace').value.trim() || null,
      decision: $('f-decision').value || null,
      since: utcParameter($('f-since').value),
      until: utcParameter($('f-until').value),
    };
    return Object.assign(filters, imageParameters($('f-image').value));
  }

  function windowParameters() {
    return { namespace: state.filters.namespace, since: state.filters.since, until: state.filters.until };
  }

  // -- recent verdicts ------------------------------------------------------------------

  async function loadVerdicts(generation) {
    setStatus('verdicts-status', 'Loading…');
    try {
      const params = Object.assign({ limit: PAGE_SIZE, cursor: state.cursor }, state.filters);
      const page = await api('verdicts', params);
      if (generation !== state.generation) return;
      const items = Array.isArray(page.items) ? page.items : [];
      state.next = typeof page.nextCursor === 'string' ? page.nextCursor : null;
      $('verdicts').tBodies[0].replaceChildren(...items.map(verdictRow));
      $('older').disabled = state.next === null;
      $('newer').disabled = state.previous.length === 0;
      $('page-info').textContent = `page ${state.previous.length + 1}, ${items.length} verdicts`;
      setStatus('verdicts-status', items.length ? '' : 'No verdicts match the filters.');
    } catch (error) {
      if (generation === state.generation) failed('verdicts-status', error);
    }
  }

  function verdictRow(verdict) {
    const open = el('button', { type: 'button', class: 'link', 'data-verdict-id': verdict.id }, verdict.reference);
    open.addEventListener('click', () => openVerdict(verdict.id));
    return el(
      'tr',
      { class: 'verdict', 'data-id': verdict.id, 'data-decision': known(verdict.decision, DECISIONS) },
      el('td', { class: 'time' }, formatTime(verdict.time)),
      el('td', null, badge(verdict.decision)),
      el('td', { class: 'namespace' }, verdict.namespace || '–'),
      el('td', { class: 'reference' }, open),
      el('td', null, verdict.rule || '–'),
      el('td', { class: 'reason' }, verdict.reason),
      el('td', null, verdict.source),
    );
  }

  // -- one verdict -----------------------------------------------------------------------

  async function openVerdict(id) {
    const generation = state.generation;
    $('detail-panel').hidden = false;
    $('detail').replaceChildren();
    setStatus('detail-status', 'Loading…');
    try {
      const verdict = await api('verdicts/' + encodeURIComponent(id));
      if (generation !== state.generation) return;
      $('detail').replaceChildren(...verdictDetail(verdict));
      setStatus('detail-status', '');
      $('detail-panel').scrollIntoView();
    } catch (error) {
      if (generation === state.generation) failed('detail-status', error);
    }
  }

  function verdictDetail(verdict) {
    const workload = verdict.workloadKind ? `${verdict.workloadKind}/${verdict.workloadName || ''}` : null;
    const fields = [
      ['Id', verdict.id],
      ['Time', formatTime(verdict.time)],
      ['Decision', badge(verdict.decision)],
      ['Decided', verdict.decided === false ? 'no: the gate could not decide (fail-closed deny)' : 'yes'],
      ['Mode', verdict.mode],
      ['Source', verdict.source],
      ['Image', verdict.reference],
      ['Digest', verdict.digest],
      ['Namespace', verdict.namespace],
      ['Workload', workload],
      ['User', verdict.user],
      ['Policy', verdict.policyName],
      ['Policy digest', verdict.policyDigest],
      ['Rule', verdict.rule],
      ['Reason', verdict.reason],
      ['Duration', typeof verdict.durationMs === 'number' ? `${verdict.durationMs.toFixed(1)} ms` : null],
    ];
    const list = el('dl', { class: 'fields', id: 'detail-fields' });
    for (const [name, value] of fields) {
      if (value === null || value === undefined || value === '') continue;
      list.appendChild(el('dt', null, name));
      list.appendChild(el('dd', { 'data-field': name.toLowerCase() }, value));
    }
    const checks = Array.isArray(verdict.checks) ? verdict.checks : [];
    const table = el(
      'table',
      { id: 'detail-checks' },
      el('thead', null, el('tr', null, el('th', null, 'Check'), el('th', null, 'Outcome'), el('th', null, 'Reason'))),
      el(
        'tbody',
        null,
        checks.map((check) =>
          el(
            'tr',
            { class: 'check', 'data-check': check.check, 'data-outcome': known(check.outcome, OUTCOMES) },
            el('td', null, check.check),
            el('td', null, el('span', { class: 'outcome outcome-' + known(check.outcome, OUTCOMES) }, check.outcome)),
            el('td', { class: 'reason' }, check.reason),
          ),
        ),
      ),
    );
    const parts = [list, el('h3', null, 'Checks'), checks.length ? table : el('p', null, 'No checks recorded.')];
    for (const check of checks) parts.push(...checkDetails(check));
    return parts;
  }

  function checkDetails(check) {
    const details = check.details && typeof check.details === 'object' ? check.details : {};
    const parts = [];
    const violations = Array.isArray(details.violations) ? details.violations : [];
    if (violations.length) {
      const total = typeof details.violationsTotal === 'number' ? details.violationsTotal : violations.length;
      parts.push(el('h3', null, `${check.check}: findings that broke the limits (${total})`));
      parts.push(
        el(
          'table',
          { class: 'violations', 'data-check': check.check },
          el(
            'thead',
            null,
            el('tr', null, ['Finding', 'Package', 'Version', 'Severity', 'Fixed in', 'Limits'].map((h) => el('th', null, h))),
          ),
          el(
            'tbody',
            null,
            violations.map((v) =>
              el(
                'tr',
                { class: 'violation' },
                el('td', null, text(v.id)),
                el('td', null, text(v.package)),
                el('td', null, text(v.version)),
                el('td', null, text(v.severity)),
                el('td', null, Array.isArray(v.fixedVersions) ? v.fixedVersions.map(text).join(', ') : ''),
                el('td', null, Array.isArray(v.limits) ? v.limits.map(text).join('; ') : ''),
              ),
            ),
          ),
        ),
      );
    }
    if (Object.keys(details).length) {
      parts.push(
        el(
          'details',
          { class: 'raw-details' },
          el('summary', null, `${check.check}: all details`),
          el('pre', null, JSON.stringify(details, null, 2)),
        ),
      );
    }
    return parts;
  }

  function text(value) {
    if (value === null || value === undefined) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }

  // -- decisions over time ----------------------------------------------------------------

  async function loadChart(generation) {
    setStatus('chart-status', 'Loading…');
    try {
      const params = Object.assign({ bucket: $('bucket').value }, windowParameters());
      const stats = await api('stats/decisions', params);
      if (generation !== state.generation) return;
      drawChart(stats);
      setStatus('chart-status', `${formatTime(stats.since)} to ${formatTime(stats.until)}, per ${stats.bucket}`);
    } catch (error) {
      if (generation !== state.generation) return;
      $('chart').replaceChildren();
      $('chart-legend').replaceChildren();
      failed('chart-status', error);
    }
  }

  function drawChart(stats) {
    const buckets = Array.isArray(stats.buckets) ? stats.buckets : [];
    const width = 960;
    const height = 240;
    const left = 44;
    const bottom = 28;
    const top = 10;
    const plotHeight = height - top - bottom;
    const plotWidth = width - left - 10;
    const counts = (b) => DECISIONS.map((d) => (Number.isInteger(b[d]) && b[d] > 0 ? b[d] : 0));
    const highest = Math.max(1, ...buckets.map((b) => counts(b).reduce((a, c) => a + c, 0)));
    const slot = plotWidth / Math.max(1, buckets.length);
    const barWidth = Math.max(1, slot * 0.8);
    const chart = svg('svg', {
      id: 'decisions-chart',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': 'verdicts per decision over time',
      'data-bucket': stats.bucket === 'day' ? 'day' : 'hour',
      'data-buckets': buckets.length,
    });
    chart.appendChild(svg('line', { class: 'axis', x1: left, y1: top + plotHeight, x2: width - 10, y2: top + plotHeight }));
    chart.appendChild(svg('line', { class: 'axis', x1: left, y1: top, x2: left, y2: top + plotHeight }));
    chart.appendChild(svg('text', { class: 'tick', x: left - 6, y: top + 10, 'text-anchor': 'end' }, String(highest)));
    chart.appendChild(svg('text', { class: 'tick', x: left - 6, y: top + plotHeight, 'text-anchor': 'end' }, '0'));
    const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
    buckets.forEach((bucket, index) => {
      const start = new Date(bucket.start);
      const label = Number.isNaN(start.getTime()) ? String(bucket.start) : shortTime(start, stats.bucket);
      const x = left + index * slot + (slot - barWidth) / 2;
      let y = top + plotHeight;
      const group = svg('g', { class: 'bucket', 'data-start': label });
      counts(bucket).forEach((count, position) => {
        if (!count) return;
        const barHeight = (count / highest) * plotHeight;
        y -= barHeight;
        const decision = DECISIONS[position];
        group.appendChild(
          svg(
            'rect',
            {
              class: 'bar bar-' + decision,
              x: x.toFixed(2),
              y: y.toFixed(2),
              width: barWidth.toFixed(2),
              height: barHeight.toFixed(2),
              'data-decision': decision,
              'data-count': count,
            },
            svg('title', null, `${label} UTC: ${count} ${decision}`),
          ),
        );
      });
      chart.appendChild(group);
      if (index % labelEvery === 0) {
        chart.appendChild(
          svg('text', { class: 'tick', x: (x + barWidth / 2).toFixed(2), y: height - 8, 'text-anchor': 'middle' }, label),
        );
      }
    });
    $('chart').replaceChildren(chart);
    const totals = stats.totals && typeof stats.totals === 'object' ? stats.totals : {};
    $('chart-legend').replaceChildren(
      ...DECISIONS.map((decision) =>
        el(
          'span',
          { class: 'legend-item', 'data-decision': decision, 'data-total': Number(totals[decision]) || 0 },
          el('span', { class: 'swatch bar-' + decision }),
          `${decision} ${Number(totals[decision]) || 0}`,
        ),
      ),
    );
  }

  // -- most denied images and findings ------------------------------------------------------

  async function loadTop(kind, generation) {
    const tableId = kind === 'images' ? 'top-images' : 'top-findings';
    const statusId = tableId + '-status';
    setStatus(statusId, 'Loading…');
    try {
      const params = Object.assign({ kind, decision: 'deny', limit: TOP_LIMIT }, windowParameters());
      const top = await api('stats/top', params);
      if (generation !== state.generation) return;
      const items = Array.isArray(top.items) ? top.items : [];
      $(tableId).tBodies[0].replaceChildren(...items.map((item) => topRow(kind, item)));
      setStatus(statusId, items.length ? `since ${formatTime(top.since)}` : `None since ${formatTime(top.since)}.`);
    } catch (error) {
      if (generation !== state.generation) return;
      $(tableId).tBodies[0].replaceChildren();
      failed(statusId, error);
    }
  }

  function topRow(kind, item) {
    const name = kind === 'images' ? item.reference : item.id;
    let cell = name;
    if (kind === 'images') {
      // Narrows the recent verdicts to this image.
      cell = el('button', { type: 'button', class: 'link' }, name);
      cell.addEventListener('click', () => {
        $('f-image').value = String(name);
        applyFilters();
      });
    }
    return el(
      'tr',
      { class: 'top-entry', 'data-count': Number(item.count) || 0 },
      el('td', { class: 'key' }, cell),
      el('td', { class: 'number' }, String(item.count)),
      el('td', { class: 'time' }, formatTime(item.lastSeen)),
    );
  }

  // -- exceptions ----------------------------------------------------------------------------

  async function loadExceptions(generation) {
    setStatus('exceptions-status', 'Loading…');
    $('exceptions').replaceChildren();
    let body;
    try {
      // Reading exceptions may need more than the read scope: a 403 here is this
      // panel's business, not a refusal of the token.
      body = await api('exceptions', null, [401]);
    } catch (error) {
      if (generation !== state.generation) return;
      if (error instanceof ApiError && NO_EXCEPTION_API.includes(error.status)) {
        setStatus('exceptions-status', 'No exception API yet: this gate does not serve /api/v1/exceptions.');
        $('exceptions-panel').setAttribute('data-state', 'absent');
        return;
      }
      if (error instanceof ApiError && error.status === 403) {
        setStatus('exceptions-status', `This token may not read exceptions (403): ${error.message}`, true);
        $('exceptions-panel').setAttribute('data-state', 'forbidden');
        return;
      }
      failed('exceptions-status', error);
      return;
    }
    if (generation !== state.generation) return;
    const items = Array.isArray(body) ? body : Array.isArray(body.items) ? body.items : null;
    if (items === null) {
      setStatus('exceptions-status', 'The exception API answered something that is not a list.', true);
      return;
    }
    $('exceptions-panel').setAttribute('data-state', 'present');
    const now = Date.now();
    const active = [];
    let inactive = 0;
    for (const item of items) {
      if (!item || typeof item !== 'object') continue;
      const expires = new Date(item.expires).getTime();
      if (item.revoked === true || item.revokedAt || !(expires > now)) {
        inactive += 1;
        continue;
      }
      active.push({ item, expires });
    }
    active.sort((a, b) => a.expires - b.expires);
    const rows = active.map(({ item, expires }) => {
      const soon = expires - now <= EXPIRING_SOON_MS;
      const subject = item.findingId || item.finding || item.purl || '(no finding or package)';
      const scope = [listText(item.images), listText(item.namespaces)].filter(Boolean).join(' in ');
      return el(
        'tr',
        { class: soon ? 'exception expiring' : 'exception', 'data-id': item.id },
        el('td', null, text(subject)),
        el('td', null, scope || 'everywhere'),
        el('td', null, text(item.owner), item.ticket ? ` (${text(item.ticket)})` : ''),
        el('td', { class: 'time' }, formatTime(item.expires), soon ? el('span', { class: 'badge expiring' }, 'expires soon') : null),
        el('td', { class: 'reason' }, text(item.reason)),
      );
    });
    if (rows.length) {
      $('exceptions').replaceChildren(
        el(
          'table',
          { id: 'exceptions-table' },
          el('thead', null, el('tr', null, ['Finding or package', 'Scope', 'Owner', 'Expires', 'Reason'].map((h) => el('th', null, h)))),
          el('tbody', null, rows),
        ),
      );
    }
    setStatus('exceptions-status', `${active.length} active, ${inactive} expired or revoked.`);
  }

  function listText(value) {
    if (Array.isArray(value)) return value.map(text).join(', ');
    return value ? text(value) : '';
  }

  // -- wiring ----------------------------------------------------------------------------------

  function loadAll() {
    state.generation += 1;
    const generation = state.generation;
    loadVerdicts(generation);
    loadChart(generation);
    loadTop('images', generation);
    loadTop('findings', generation);
    loadExceptions(generation);
  }

  function applyFilters() {
    state.filters = readFilters();
    state.cursor = null;
    state.previous = [];
    loadAll();
  }

  function start(token) {
    state.token = token;
    state.refused = false;
    $('error').hidden = true;
    $('error').replaceChildren();
    showDashboard();
    applyFilters();
  }

  function init() {
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('token').value.trim();
      if (!token) return;
      if (!/^[\x21-\x7e]+$/.test(token)) {
        // It could not even be sent in a header; the API's tokens are printable ASCII.
        $('error').replaceChildren('A token is printable ASCII without spaces.');
        $('error').hidden = false;
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      start(token);
    });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = null;
      state.generation += 1;
      clearData();
      showLogin();
    });
    $('refresh').addEventListener('click', () => loadAll());
    $('filters').addEventListener('submit', (event) => {
      event.preventDefault();
      applyFilters();
    });
    $('f-reset').addEventListener('click', () => {
      $('filters').reset();
      applyFilters();
    });
    $('bucket').addEventListener('change', () => loadChart(state.generation));
    $('older').addEventListener('click', () => {
      if (state.next === null) return;
      state.previous.push(state.cursor);
      state.cursor = state.next;
      loadVerdicts(state.generation);
    });
    $('newer').addEventListener('click', () => {
      if (!state.previous.length) return;
      state.cursor = state.previous.pop();
      loadVerdicts(state.generation);
    });
    $('close-detail').addEventListener('click', () => {
      $('detail-panel').hidden = true;
      $('detail').replaceChildren();
    });
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) start(token);
    else showLogin();
  }

  document.addEventListener('DOMContentLoaded', init);
})();
