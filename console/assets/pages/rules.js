// Rules: the ruleset in force, its files, segments and offers (with
// search), each offer's state now, caps, budget and pacing, and the last
// reload error with file:line:col.

import { api } from '../api.js';
import { esc, int, num, money, moneyShort, when, shortTime, duration, pill, plural, errorText } from '../fmt.js';
import { stackBar } from '../charts.js';

export const title = 'Rules';

/** The state of an offer now: [label, pill kind, why]. inactive_reason
 * (GET /v1/rules) says why an offer is off: "not started …", "ended …",
 * "not on this day", "outside its hours", "disabled". */
export function offerState(o, now = new Date()) {
  if (o.active) return ['Active', 'ok', 'Offered now to the segments it targets'];
  const why = o.inactive_reason || '';
  const s = o.schedule || {};
  if (o.disabled || /^disabled/.test(why)) return ['Disabled', 'off', why || 'Turned off in the rules (disabled: true)'];
  if (/^not started/.test(why) || (!why && s.start && new Date(s.start) > now)) return ['Scheduled', 'info', why || 'Starts ' + when(s.start)];
  if (/^ended/.test(why) || (!why && s.end && new Date(s.end) <= now)) return ['Ended', 'off', why || 'Ended ' + when(s.end)];
  return ['Off now', 'warn', why || 'Outside its schedule now'];
}

/** inactive_reason in words: the times in local time. */
function reasonText(o) {
  const why = o.inactive_reason || '';
  const m = /^(not started|ended) (\S+)$/.exec(why);
  if (m) return (m[1] === 'ended' ? 'ended ' : 'starts ') + shortTime(m[2]);
  return why;
}

function caps(o) {
  const c = o.caps;
  if (!c) return '<span class="muted">none</span>';
  const parts = [];
  if (c.per_customer) parts.push(`${int(c.per_customer)} per customer${c.per ? ' / ' + esc(duration(c.per)) : ''}`);
  if (c.total) parts.push(`${int(c.total)} in total`);
  if (c.budget) parts.push(`budget ${esc(num(c.budget))}`);
  if (c.hold) parts.push(`<span class="muted">hold ${esc(duration(c.hold))}</span>`);
  if (c.pacing) parts.push(`<span class="muted">pacing ${esc(c.pacing)}</span>`);
  return parts.map((p) => `<div>${p}</div>`).join('') || '<span class="muted">none</span>';
}

function budgetCell(b) {
  if (!b) return '<span class="muted">–</span>';
  const a = b.amount || b.count;
  if (!a) return '<span class="muted">–</span>';
  const isMoney = !!b.amount;
  const f = (v) => (isMoney ? moneyShort(v, b.currency) : int(v));
  const bar = stackBar([
    { value: a.committed, cls: 'committed', label: 'committed ' + f(a.committed) },
    { value: a.held, cls: 'held', label: 'held ' + f(a.held) },
  ], a.limit, { width: 110, height: 8, marker: a.allowed_now, markerLabel: 'pace: ' + f(a.allowed_now) + ' allowed by now' });
  return `<div class="num">${f(a.committed)} <span class="muted">of ${f(a.limit)}</span></div>${bar}`;
}

/** A value of the rules as short text: lists joined, objects as key value. */
function text(v) {
  if (v == null) return '';
  if (Array.isArray(v)) return v.map(text).join(', ');
  if (typeof v === 'object') {
    if (v.from != null || v.to != null) return `${v.from ?? '…'}–${v.to ?? '…'}`;
    if (v.start != null || v.end != null) return `${v.start ?? '…'}–${v.end ?? '…'}`;
    return Object.entries(v).map(([k, x]) => k + ' ' + text(x)).join(', ');
  }
  return String(v);
}

function schedule(o) {
  const s = o.schedule;
  if (!s) return '<span class="muted">always</span>';
  const out = [];
  if (s.start || s.end) out.push(`${s.start ? esc(shortTime(s.start)) : '…'} → ${s.end ? esc(shortTime(s.end)) : '…'}`);
  if (s.days && s.days.length) out.push(esc(text(s.days)));
  if (s.hours) out.push(esc(text(s.hours)));
  if (s.timezone) out.push(`<span class="muted">${esc(s.timezone)}</span>`);
  return out.map((x) => `<div>${x}</div>`).join('');
}

function discount(o) {
  const d = o.discount;
  if (!d) return '<span class="muted">–</span>';
  if (typeof d === 'string') return esc(d.replace('_', ' '));
  const m = (v) => money(v, d.currency);
  let main;
  switch (d.type) {
    case 'percent':
      main = d.percent != null ? `${num(d.percent)}% off` : `<code>${esc(d.percent_expr || '')}</code>% off`;
      if (d.max_amount) main += ` <span class="muted">up to ${esc(m(d.max_amount))}</span>`;
      break;
    case 'amount':
      main = d.amount != null ? `${esc(m(d.amount))} off` : `<code>${esc(d.amount_expr || '')}</code> off`;
      if (d.per_currency) { // {USD: 10, EUR: 9}: the amounts written for other currencies
        const others = Object.entries(d.per_currency).filter(([c]) => c !== d.currency).sort(([a], [b]) => a.localeCompare(b));
        if (others.length) main += `<div class="muted">${others.map(([c, v]) => esc(money(v, c))).join(' · ')}</div>`;
      }
      break;
    case 'tiers':
      // a tier takes an amount or a percent off (TierView)
      main = (d.tiers || []).map((t) => `${t.amount != null ? esc(m(t.amount)) : esc(num(t.percent)) + '%'} from ${esc(m(t.min_total))}`).join('<br>');
      break;
    case 'buy_x_get_y':
      main = `buy ${int(d.buy)}, get ${int(d.get)}${d.get_percent && d.get_percent !== 100 ? ` at ${num(d.get_percent)}% off` : ' free'}`;
      break;
    case 'free_shipping':
      main = 'free shipping';
      break;
    default:
      main = esc((d.type || '').replace(/_/g, ' '));
  }
  const items = d.items ? `<div class="muted">on <code>${esc(d.items)}</code></div>` : '';
  return main + items;
}

function matches(q, ...fields) {
  if (!q) return true;
  return fields.some((f) => String(f ?? '').toLowerCase().includes(q));
}

export function mount(root) {
  root.innerHTML = `
    <header class="page-head">
      <div><h1>Rules</h1><p class="muted">The ruleset in force: what each customer can be offered, and when.</p></div>
      <input id="rules-search" class="search" type="search" placeholder="Search offers and segments" aria-label="Search offers and segments">
    </header>
    <div id="rules-body"><div class="loading">Loading the ruleset…</div></div>`;
  const body = root.querySelector('#rules-body');
  const search = root.querySelector('#rules-search');
  let data = null;
  let budgets = new Map();
  let budgetsErr = null; // GET /v1/budgets failed (the ledger down): the Budget column says so

  function render() {
    if (!data) return;
    const q = search.value.trim().toLowerCase();
    const r = data;
    const active = r.offers.filter((o) => o.active).length;
    const offers = r.offers.filter((o) => matches(q, o.id, o.title, o.message, o.kind, o.group, (o.segments || []).join(' '), (o.exclude_segments || []).join(' '), (o.placements || []).join(' '), o.when, o.inactive_reason));
    const segs = r.segments.filter((s) => matches(q, s.id, s.description, s.when));
    const err = r.last_error;
    body.innerHTML = `
      ${err ? `<section class="banner bad" id="reload-error">
        <strong>The last reload failed</strong> (${esc(err.trigger)}, ${esc(when(err.at))}): the ruleset below is still in force.
        <ul class="errors">${(err.errors || []).map((e) => `<li><code>${esc(e.file)}:${e.line}:${e.col}</code> ${esc(e.message)}${e.hint ? ` <span class="muted">— ${esc(e.hint)}</span>` : ''}</li>`).join('') || `<li>${esc(err.message)}</li>`}</ul>
      </section>` : ''}
      <section class="stats">
        <div class="stat"><div class="stat-label">Version</div><div class="stat-value"><code>${esc(r.version)}</code></div><div class="muted small">loaded ${esc(when(r.loaded_at))}</div></div>
        <div class="stat"><div class="stat-label">Offers active now</div><div class="stat-value num">${int(active)} <span class="muted">of ${int(r.offers.length)}</span></div></div>
        <div class="stat"><div class="stat-label">Segments</div><div class="stat-value num">${int(r.segments.length)}</div></div>
        <div class="stat"><div class="stat-label">Experiments</div><div class="stat-value num">${int((r.experiments || []).length)}</div><div class="muted small">holdout ${num(r.arbitration.holdout)}%</div></div>
        <div class="stat wide"><div class="stat-label">Source</div><div class="stat-value small-value"><code>${esc(r.source)}</code></div>
          <details class="files"><summary>${plural(r.files.length, 'file')}</summary><ul>${r.files.map((f) => `<li><code>${esc(f)}</code></li>`).join('')}</ul></details></div>
      </section>
      <section class="card">
        <div class="card-head"><h2>Offers</h2><span class="muted" id="offers-count">${offers.length === r.offers.length ? plural(r.offers.length, 'offer') : `${int(offers.length)} of ${plural(r.offers.length, 'offer')}`}</span></div>
        <div class="table-wrap"><table class="data" id="offers-table">
          <thead><tr><th>Status</th><th>Offer</th><th>Who and where</th><th class="num">Priority</th><th>Discount</th><th>Schedule</th><th>Caps</th><th>Budget</th></tr></thead>
          <tbody>${offers.map((o) => {
            const [label, kind, why] = offerState(o);
            const b = budgets.get(o.id);
            return `<tr data-offer="${esc(o.id)}">
              <td>${pill(label, kind, why)}${o.active ? '' : `<div class="muted small reason">${esc(reasonText(o))}</div>`}</td>
              <td class="offer-cell"><div class="strong">${esc(o.id)}</div><div class="muted small">${esc(o.title || '')}</div>
                <div class="muted small">${esc(o.kind)}${o.group ? ' · group ' + esc(o.group) : ''}${o.fallback ? ' · fallback' : ''}</div>
                ${o.when ? `<div class="small cond-line"><span class="muted">when</span> <code>${esc(text(o.when))}</code></div>` : ''}
                ${o.score ? `<div class="small cond-line"><span class="muted">score</span> <code>${esc(text(o.score))}</code></div>` : ''}</td>
              <td class="small">${(o.segments || []).length ? esc(o.segments.join(', ')) : 'everyone'}${(o.exclude_segments || []).length ? `<div class="excl">not ${esc(o.exclude_segments.join(', '))}</div>` : ''}<div class="muted">on ${esc((o.placements || []).join(', ') || 'every placement')}</div></td>
              <td class="num">${num(o.priority)}</td>
              <td class="small">${discount(o)}</td>
              <td class="small">${schedule(o)}</td>
              <td class="small">${caps(o)}</td>
              <td class="small budget-cell">${budgetsErr && o.caps && (o.caps.total || o.caps.budget) ? `<span class="muted" title="${esc(errorText(budgetsErr))}">unavailable</span>` : budgetCell(b)}</td>
            </tr>`;
          }).join('') || '<tr><td colspan="8" class="empty">No offer matches the search.</td></tr>'}</tbody>
        </table></div>
      </section>
      <section class="card">
        <div class="card-head"><h2>Segments</h2><span class="muted">${segs.length === r.segments.length ? plural(r.segments.length, 'segment') : `${int(segs.length)} of ${plural(r.segments.length, 'segment')}`}</span></div>
        <div class="table-wrap"><table class="data" id="segments-table">
          <thead><tr><th>Segment</th><th>Condition</th></tr></thead>
          <tbody>${segs.map((s) => `<tr><td class="seg-id"><div class="strong">${esc(s.id)}</div><div class="muted small">${esc(s.description || '')}</div></td><td><code class="cond">${esc(s.when || '')}</code></td></tr>`).join('') || '<tr><td colspan="2" class="empty">No segment matches the search.</td></tr>'}</tbody>
        </table></div>
      </section>`;
  }

  async function load() {
    try {
      let bErr = null;
      const [r, b] = await Promise.all([api('/v1/rules'), api('/v1/budgets').catch((e) => { bErr = e; return null; })]);
      data = r;
      budgetsErr = bErr;
      budgets = new Map(((b && b.offers) || []).map((x) => [x.offer_id, x]));
      render();
      body.dataset.loaded = 'true';
    } catch (e) {
      body.innerHTML = `<div class="banner bad">Could not read the rules: ${esc(errorText(e))}</div>`;
    }
  }
  search.addEventListener('input', render);
  load();
  return () => {};
}
