// Playground: a profile (edited, or loaded by customer id), a cart, a
// context and a time; the decision and its explanation follow as you
// type. Every request is a dry run (nothing is granted, counted or
// published); the time travels through the request's "now".

import { api } from '../api.js';
import { esc, num, money, pill, debounce, errorText } from '../fmt.js';

export const title = 'Playground';

// The state outlives the page, so that going to Rules and back keeps it.
const state = {
  customerId: '',
  profileText: '',
  placement: 'checkout',
  channel: 'web',
  currency: 'USD',
  items: [
    { sku: 'SHOE-1', category: 'shoes', price: 60.25, quantity: 2 },
    { sku: 'SOCK-3', category: 'accessories', price: 4.5, quantity: 1 },
  ],
  contextText: '{}',
  time: '', // datetime-local; '' is the server's now
};

// What the Why column says for each reason the engine's explain gives
// (engine/api.go, Reason*; the browser test checks that each has one).
const REASONS = {
  placement: 'another placement',
  schedule: 'outside its schedule',
  segment: 'not in its segments',
  when: 'its condition is false',
  cap_per_customer: 'capped for this customer',
  cap_total: 'capped: its total is reached',
  budget: 'budget spent',
  group: 'lost its group to a higher score',
  guardrail: 'over the discount guardrail (max_discount_percent)',
  limit: 'beyond max actions',
  holdout: 'customer is in the holdout',
  experiment: 'its experiment variant hides it',
  error: 'rule error: its condition or score failed',
  pacing: 'paced: not yet',
  currency: 'no amount or rate for the cart\'s currency',
};

// The reasons that a competing offer or a limit of the ledger caused, in
// the warn colour: the offer was eligible and lost.
const WARN = new Set(['group', 'cap_per_customer', 'cap_total', 'budget']);

/** The Why column's pill of an offer of the explain. */
function whyPill(o) {
  if (o.chosen) return pill('Chosen', 'ok');
  return pill(REASONS[o.reason] || o.reason || 'not chosen', WARN.has(o.reason) ? 'warn' : 'off', o.reason || '');
}

function pad2(n) { return String(n).padStart(2, '0'); }

/** A datetime-local value as RFC 3339 with the browser's offset. */
export function localToRFC3339(v) {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return null;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}${sign}${pad2(Math.floor(a / 60))}:${pad2(a % 60)}`;
}

function toLocalInput(d) {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** The dry-run request of the state, or throws an Error naming the part. */
export function buildRequest(s) {
  const body = { placement: s.placement || 'default', dry_run: true, explain: true };
  if (s.channel) body.channel = s.channel;
  const pt = s.profileText.trim();
  if (pt) {
    let p;
    try { p = JSON.parse(pt); } catch (e) { throw Object.assign(new Error('is not JSON: ' + e.message), { field: 'profile' }); }
    if (!p || typeof p !== 'object' || Array.isArray(p)) throw Object.assign(new Error('must be a JSON object'), { field: 'profile' });
    body.profile = p;
    if (p.id == null && s.customerId) body.customer_id = s.customerId;
  } else if (s.customerId) {
    body.customer_id = s.customerId;
  }
  const items = s.items.filter((it) => it.sku !== '' || it.price !== '' || it.category !== '');
  if (items.length) {
    body.cart = {
      currency: s.currency || 'USD',
      items: items.map((it, i) => {
        // A number field reads what is not a number (12,50) as empty: an
        // empty price is an error to fix, not a price of 0.
        for (const k of ['price', 'quantity']) {
          if (it[k] === '' || Number.isNaN(Number(it[k]))) {
            throw Object.assign(new Error(`is empty or not a number: write it like ${k === 'price' ? '12.50 (a point for the decimals)' : '2'}`), { field: `cart.items[${i}].${k}` });
          }
        }
        const o = { sku: it.sku, price: Number(it.price), quantity: Number(it.quantity) };
        if (it.category) o.category = it.category;
        return o;
      }),
    };
  }
  const ct = s.contextText.trim();
  if (ct && ct !== '{}') {
    let c;
    try { c = JSON.parse(ct); } catch (e) { throw Object.assign(new Error('is not JSON: ' + e.message), { field: 'context' }); }
    body.context = c;
  }
  if (s.time) {
    const t = localToRFC3339(s.time);
    if (t) body.now = t;
  }
  return body;
}

function actionCard(a, i) {
  const d = a.discount;
  let badge = '';
  if (d) {
    if (d.free_shipping) badge = pill('Free shipping', 'info');
    else badge = pill('−' + money(d.amount, d.currency) + (d.percent != null ? ` · ${num(d.percent)}%` : ''), 'ok');
  } else {
    badge = pill(a.kind || 'action', 'off');
  }
  return `<li class="action" data-offer="${esc(a.offer_id)}">
    <div class="rank">${i + 1}</div>
    <div class="action-main"><div class="action-title">${esc(a.title || a.offer_id)}</div>
      <div class="muted small">${esc(a.message || '')}</div>
      <div class="small"><code>${esc(a.offer_id)}</code></div></div>
    <div class="action-side">${badge}<div class="muted small num">score ${num(a.score)}</div></div>
  </li>`;
}

function explainRows(d) {
  const ex = d.explain;
  if (!ex || !ex.offers) return '';
  // The chosen first, in the order of the actions; then the others as the rules list them.
  const rank = new Map((d.actions || []).map((a, i) => [a.offer_id, i]));
  const key = (o) => (o.chosen ? (rank.has(o.id) ? rank.get(o.id) : 999) : 1000);
  const rows = [...ex.offers].sort((a, b) => key(a) - key(b));
  return rows.map((o) => {
    const res = whyPill(o);
    const l = o.learning;
    // error: the expression that failed, with its file:line:col (engine's
    // exprError); variant: the experiment/variant that changed the offer.
    return `<tr class="${o.chosen ? 'chosen' : ''}"><td><code>${esc(o.id)}</code></td><td class="why-result">${res}${o.detail ? `<div class="small">${esc(o.detail)}</div>` : ''}${o.error ? `<div class="small error-text rule-error">${esc(o.error)}</div>` : ''}${o.variant ? `<div class="small">changed by experiment <code>${esc(o.variant)}</code></div>` : ''}</td>
      <td class="num">${o.score != null ? num(o.score) : '<span class="muted">–</span>'}${l ? `<div class="small muted" title="learning: cell ${esc(l.cell)}, Beta(${num(l.alpha)}, ${num(l.beta)})">${esc(l.cell)} · p ${num(l.propensity * 100, 1)}%</div>` : ''}</td></tr>`;
  }).join('');
}

function renderDecision(d) {
  const segs = d.segments || [];
  const exps = d.experiments || [];
  const matched = (d.explain && d.explain.segments) || [];
  const segErrs = matched.filter((s) => s.error); // a condition that failed: its file:line:col and message
  return `
    <div class="decision-head">
      <div><h2>Decision</h2><div class="muted small">ruleset <code>${esc(d.ruleset)}</code> · ${num(d.took_us / 1000, 2)} ms · ${d.customer_id ? 'customer <code>' + esc(d.customer_id) + '</code>' : 'anonymous'}</div></div>
      <div>${pill('Dry run', 'info', 'Nothing was granted, counted or published')}${d.holdout ? pill('Holdout', 'warn', 'This customer is in the holdout: no offers') : ''}
      ${(d.degraded || []).map((g) => pill(g.replace('_', ' '), 'bad')).join('')}</div>
    </div>
    <ol class="actions" id="decision-actions">${(d.actions || []).map(actionCard).join('') || '<li class="empty">No offer for this customer and cart.</li>'}</ol>
    <div class="kv"><span class="muted">Segments</span><div id="decision-segments">${segs.length ? segs.map((s) => `<span class="chip">${esc(s)}</span>`).join('') : '<span class="muted">none</span>'}</div></div>
    <div class="kv"><span class="muted">Experiments</span><div>${exps.length ? exps.map((e) => `<span class="chip">${esc(e.id)}: <strong>${esc(e.variant)}</strong></span>`).join('') : '<span class="muted">none</span>'}</div></div>
    <h3>Why</h3>
    <div class="table-wrap"><table class="data compact" id="explain-table"><thead><tr><th>Offer</th><th>Result</th><th class="num">Score <span class="muted">(learning)</span></th></tr></thead><tbody>${explainRows(d)}</tbody></table></div>
    <details class="seg-explain"${segErrs.length ? ' open' : ''}><summary>Segments checked (${matched.filter((s) => s.matched).length} of ${matched.length} matched${segErrs.length ? `, <span class="error-text">${segErrs.length} failed</span>` : ''})</summary>
      <div>${matched.map((s) => `<span class="chip ${s.matched ? 'on' : s.error ? 'bad' : 'dim'}">${esc(s.id)}</span>`).join('')}</div>
      ${segErrs.length ? `<ul class="errors small" id="segment-errors">${segErrs.map((s) => `<li><code>${esc(s.id)}</code> <span class="error-text">${esc(s.error)}</span></li>`).join('')}</ul>` : ''}</details>`;
}

export function mount(root) {
  root.innerHTML = `
    <header class="page-head"><div><h1>Playground</h1><p class="muted">Try a customer, a cart and a moment: the decision follows as you type. Dry runs only — nothing is granted or counted.</p></div></header>
    <div class="split">
      <section class="card form" id="pg-form">
        <h2>Customer</h2>
        <div class="row">
          <label class="field grow"><span>Customer id</span><input id="pg-customer" type="text" placeholder="c-000042" spellcheck="false" autocomplete="off"></label>
          <button id="pg-load" class="btn" type="button">Load profile</button>
        </div>
        <p id="pg-load-msg" class="small muted" hidden></p>
        <label class="field"><span>Profile <span class="muted">(JSON; empty: the stored profile of the customer id)</span></span>
          <textarea id="pg-profile" rows="8" spellcheck="false" placeholder='{"id": "c-1042", "orders": 3, "ltv": 420.5}'></textarea></label>
        <h2>Cart</h2>
        <div class="row">
          <label class="field"><span>Currency</span><input id="pg-currency" type="text" maxlength="3" size="4"></label>
          <label class="field"><span>Placement</span><input id="pg-placement" type="text" list="pg-placements"></label>
          <datalist id="pg-placements"></datalist>
          <label class="field"><span>Channel</span><input id="pg-channel" type="text" list="pg-channels"></label>
          <datalist id="pg-channels"><option value="web"><option value="app"><option value="email"><option value="pos"></datalist>
        </div>
        <table class="items" id="pg-items"><thead><tr><th>SKU</th><th>Category</th><th class="num">Price</th><th class="num">Qty</th><th></th></tr></thead><tbody></tbody></table>
        <div class="row between"><button id="pg-add" class="btn small" type="button">+ Add item</button><span class="muted small" id="pg-total"></span></div>
        <h2>Context and time</h2>
        <label class="field"><span>Context <span class="muted">(JSON: utm_source, device, …)</span></span><textarea id="pg-context" rows="3" spellcheck="false"></textarea></label>
        <label class="field"><span>Time <span class="muted">(your local time; empty: now — travel to test schedules and dates)</span></span><input id="pg-time" type="datetime-local"></label>
        <div class="btn-group" role="group" aria-label="Move the time">
          <button class="btn small" type="button" data-shift="-7">−7 days</button>
          <button class="btn small" type="button" data-shift="-1">−1 day</button>
          <button class="btn small" type="button" data-shift="1">+1 day</button>
          <button class="btn small" type="button" data-shift="7">+7 days</button>
          <button class="btn small" type="button" id="pg-now">Now</button>
        </div>
      </section>
      <section class="card result" id="decision" data-state="idle"><div class="loading">Deciding…</div></section>
    </div>`;

  const $ = (sel) => root.querySelector(sel);
  const out = $('#decision');
  const itemsBody = $('#pg-items tbody');
  let seq = 0;
  let ctrl = null;
  let alive = true;

  $('#pg-customer').value = state.customerId;
  $('#pg-profile').value = state.profileText;
  $('#pg-currency').value = state.currency;
  $('#pg-placement').value = state.placement;
  $('#pg-channel').value = state.channel;
  $('#pg-context').value = state.contextText;
  $('#pg-time').value = state.time;

  function renderItems() {
    itemsBody.innerHTML = state.items.map((it, i) => `<tr data-i="${i}">
      <td><input data-k="sku" value="${esc(it.sku)}" aria-label="SKU" spellcheck="false"></td>
      <td><input data-k="category" value="${esc(it.category)}" aria-label="Category" spellcheck="false"></td>
      <td class="num"><input data-k="price" type="number" step="0.01" min="0" value="${esc(it.price)}" aria-label="Price" class="num"></td>
      <td class="num"><input data-k="quantity" type="number" step="1" min="1" value="${esc(it.quantity)}" aria-label="Quantity" class="num qty"></td>
      <td><button class="btn icon" type="button" data-remove="${i}" aria-label="Remove item" title="Remove item">×</button></td></tr>`).join('');
    renderTotal();
  }
  function renderTotal() {
    const t = state.items.reduce((s, it) => s + (Number(it.price) || 0) * (Number(it.quantity) || 0), 0);
    $('#pg-total').innerHTML = `Cart total <strong class="num">${esc(money(t, state.currency || 'USD'))}</strong>`;
  }

  async function decide() {
    const my = ++seq;
    let body;
    try {
      body = buildRequest(state);
    } catch (e) {
      out.dataset.state = 'error';
      out.innerHTML = `<div class="banner bad" id="decision-error"><strong>${esc(e.field || 'request')}</strong> ${esc(e.message)}</div>`;
      return;
    }
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    out.classList.add('busy');
    try {
      const d = await api('/v1/decide', { method: 'POST', body, signal: ctrl.signal });
      if (my !== seq || !alive) return;
      out.innerHTML = renderDecision(d);
      out.dataset.state = 'ok';
      out.dataset.signature = JSON.stringify([(d.actions || []).map((a) => a.offer_id + ':' + (a.discount ? a.discount.amount : '')), d.segments]);
    } catch (e) {
      if (e.name === 'AbortError' || my !== seq || !alive) return;
      out.dataset.state = 'error';
      out.innerHTML = `<div class="banner bad" id="decision-error"><strong>The request was refused</strong><div>${esc(errorText(e))}</div></div>`;
    } finally {
      if (my === seq) out.classList.remove('busy');
    }
  }
  const later = debounce(decide, 250);

  async function loadProfile() {
    const id = state.customerId.trim();
    const msg = $('#pg-load-msg');
    if (!id) { msg.hidden = false; msg.textContent = 'Write a customer id first.'; return; }
    try {
      const p = await api('/v1/profiles/' + encodeURIComponent(id));
      state.profileText = JSON.stringify({ id: p.id, ...p }, null, 2); // the id first, then the fields as stored
      $('#pg-profile').value = state.profileText;
      msg.hidden = false; msg.textContent = 'Loaded the stored profile of ' + id + '. Edit it: the decision follows.';
      decide();
    } catch (e) {
      msg.hidden = false; msg.textContent = errorText(e);
    }
  }

  root.addEventListener('input', (ev) => {
    const t = ev.target;
    if (t.closest('#pg-items')) {
      const i = +t.closest('tr').dataset.i;
      state.items[i][t.dataset.k] = t.value;
      renderTotal();
    } else if (t.id === 'pg-customer') state.customerId = t.value;
    else if (t.id === 'pg-profile') state.profileText = t.value;
    else if (t.id === 'pg-currency') { state.currency = t.value.toUpperCase(); renderTotal(); }
    else if (t.id === 'pg-placement') state.placement = t.value;
    else if (t.id === 'pg-channel') state.channel = t.value;
    else if (t.id === 'pg-context') state.contextText = t.value;
    else if (t.id === 'pg-time') state.time = t.value;
    else return;
    later();
  });
  root.addEventListener('click', (ev) => {
    const t = ev.target;
    if (t.dataset.remove != null) { state.items.splice(+t.dataset.remove, 1); renderItems(); later(); }
    else if (t.id === 'pg-add') { state.items.push({ sku: '', category: '', price: '', quantity: 1 }); renderItems(); }
    else if (t.id === 'pg-load') loadProfile();
    else if (t.id === 'pg-now') { state.time = ''; $('#pg-time').value = ''; later(); }
    else if (t.dataset.shift) {
      const base = state.time ? new Date(state.time) : new Date();
      base.setDate(base.getDate() + Number(t.dataset.shift));
      state.time = toLocalInput(base);
      $('#pg-time').value = state.time;
      later();
    }
  });
  $('#pg-customer').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') loadProfile(); });

  api('/v1/rules').then((r) => {
    const ps = new Set();
    for (const o of r.offers) for (const p of o.placements || []) ps.add(p);
    $('#pg-placements').innerHTML = [...ps].sort().map((p) => `<option value="${esc(p)}">`).join('');
  }).catch(() => {});

  renderItems();
  decide();
  return () => { alive = false; if (ctrl) ctrl.abort(); };
}
