// Budgets and learning: each capped offer's committed, held and remaining
// (a stacked bar, with the pace marker: what may be spent by now), and
// each learning offer's posterior per cell (mean and 95% interval).

import { api } from '../api.js';
import { esc, int, num, money, pct, clock, shortTime, pill, errorText } from '../fmt.js';
import { stackBar, intervalBar } from '../charts.js';

export const title = 'Budgets & learning';
const REFRESH_MS = 5000;

function budgetRow(b) {
  const a = b.amount || b.count;
  const isMoney = !!b.amount;
  const f = (v) => (v == null ? '–' : isMoney ? money(v, b.currency) : int(v));
  const used = a.limit > 0 ? (a.committed + a.held) / a.limit : 0;
  const state = !b.active ? pill('Inactive', 'off') : a.remaining <= 0 ? pill('Spent', 'bad') : used >= 0.8 ? pill('Nearly spent', 'warn') : pill('Active', 'ok');
  const bar = stackBar([
    { value: a.committed, cls: 'committed', label: 'committed ' + f(a.committed) },
    { value: a.held, cls: 'held', label: 'held ' + f(a.held) },
  ], a.limit, { width: 230, height: 14, marker: a.allowed_now, markerLabel: 'pace: ' + f(a.allowed_now) + ' may be spent by now' });
  const win = b.window ? `${shortTime(b.window.start)} → ${shortTime(b.window.end)}` : '';
  return `<tr data-offer="${esc(b.offer_id)}">
    <td class="offer-cell"><div class="strong">${esc(b.offer_id)}</div><div class="muted small">${isMoney ? 'budget' : 'count cap'}${b.hold ? ' · holds ' + esc(b.hold) : ''}</div>${state}</td>
    <td class="bar-cell">${bar}<div class="muted small">${b.pacing ? 'pacing ' + esc(b.pacing) + (win ? ' · ' + esc(win) : '') : win ? esc(win) : 'no pacing'}</div></td>
    <td class="num">${f(a.limit)}</td><td class="num">${f(a.committed)}</td><td class="num">${f(a.held)}</td><td class="num">${f(a.remaining)}</td>
    <td class="num">${a.allowed_now != null ? f(a.allowed_now) : '<span class="muted">–</span>'}</td>
    <td class="num">${b.over_cap_commits ? `<span class="pill warn" title="Orders committed after the cap was reached (a hold expired first)">${int(b.over_cap_commits)}</span>` : '0'}</td></tr>`;
}

function budgetsCard(v) {
  const offers = (v && v.offers) || [];
  return `<section class="card" id="budgets">
    <div class="card-head"><div><h2>Budgets and caps</h2><div class="muted small">Amounts in ${esc(v ? v.currency : '')}. A hold is spent when its order commits, released when it expires.</div></div>
      <div class="legend small"><span class="sw committed"></span>committed <span class="sw held"></span>held <span class="sw track"></span>remaining <span class="sw pace"></span>pace (allowed by now)</div></div>
    <div class="table-wrap"><table class="data"><thead><tr><th>Offer</th><th>Spent of the limit</th><th class="num">Limit</th><th class="num">Committed</th><th class="num">Held</th><th class="num">Remaining</th><th class="num">Allowed now</th><th class="num">Over cap</th></tr></thead>
    <tbody>${offers.map(budgetRow).join('') || '<tr><td colspan="8" class="empty">No offer has a total cap or a budget.</td></tr>'}</tbody></table></div></section>`;
}

function learningCard(l) {
  if (!l || !l.method) {
    return `<section class="card" id="learning"><div class="card-head"><h2>Learning</h2></div><div class="empty">These rules do not learn: add <code>learning:</code> to arbitration.yaml to score offers by their observed conversion.</div></section>`;
  }
  const cells = [];
  for (const o of l.offers) for (const c of o.cells) if (!cells.includes(c.cell)) cells.push(c.cell);
  let max = 0;
  for (const o of l.offers) for (const c of o.cells) max = Math.max(max, c.ci95[1]);
  max = Math.min(1, max * 1.1 || 0.1);
  const snap = l.snapshot || {};
  const snapText = snap.ok ? `Snapshot ${snap.refreshed_at ? clock(snap.refreshed_at) : '–'} (${num(snap.age_seconds, 1)} s old)` : `Not refreshed: ${snap.error || 'no snapshot yet'}`;
  const cellHTML = (o, name) => {
    const c = o.cells.find((x) => x.cell === name);
    if (!c) return '<td class="post muted">–</td>';
    const label = `${o.offer_id} / ${c.cell}: ${pct(c.mean)}, 95% interval ${pct(c.ci95[0])} to ${pct(c.ci95[1])}, ${num(c.successes, 1)} of ${num(c.trials, 1)}`;
    return `<td class="post${c.trials ? '' : ' prior'}" data-cell="${esc(c.cell)}" title="${esc(label)}">
      <div class="post-top"><span class="post-mean num">${pct(c.mean)}</span><span class="muted small num">${num(c.successes, 1)}/${num(c.trials, 1)}</span></div>
      ${intervalBar({ lo: c.ci95[0], hi: c.ci95[1], est: c.mean, min: 0, max, width: 128, height: 14, tone: 'neutral', label })}
      <div class="muted small num">${pct(c.ci95[0])} … ${pct(c.ci95[1])}</div></td>`;
  };
  return `<section class="card" id="learning">
    <div class="card-head"><div><h2>Learning</h2><div class="muted small">${esc(l.method)} on <code>${esc(l.reward)}</code> · prior Beta(${num(l.prior.alpha)}, ${num(l.prior.beta)}) · ${l.half_life ? 'half-life ' + esc(l.half_life) + ' · ' : ''}posterior mean, successes/trials and 95% interval per cell (bars from 0 to ${pct(max, 0)})</div></div>
      <div>${pill(snapText, snap.ok ? 'ok' : 'warn')}</div></div>
    <div class="table-wrap"><table class="data matrix" id="learning-table"><thead><tr><th>Offer</th>${cells.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>
    <tbody>${l.offers.map((o) => `<tr data-offer="${esc(o.offer_id)}"><td class="strong">${esc(o.offer_id)}</td>${cells.map((c) => cellHTML(o, c)).join('')}</tr>`).join('') || `<tr><td colspan="${cells.length + 1}" class="empty">No offer learns yet.</td></tr>`}</tbody></table></div></section>`;
}

export function mount(root) {
  root.innerHTML = `
    <header class="page-head"><div><h1>Budgets &amp; learning</h1><p class="muted">Where the money of each capped offer went, and what each learning offer has learnt.</p></div>
      <div class="live" id="bl-live"><span class="dot"></span><span id="bl-updated">connecting…</span></div></header>
    <div id="bl-body"><div class="loading">Loading…</div></div>`;
  const body = root.querySelector('#bl-body');
  const updated = root.querySelector('#bl-updated');
  const live = root.querySelector('#bl-live');
  let alive = true;
  let timer = 0;

  async function load() {
    const [b, l] = await Promise.allSettled([api('/v1/budgets'), api('/v1/learning')]);
    if (!alive) return;
    let html = '';
    html += b.status === 'fulfilled' ? budgetsCard(b.value) : `<section class="card"><div class="banner bad">Budgets: ${esc(errorText(b.reason))}</div></section>`;
    html += l.status === 'fulfilled' ? learningCard(l.value) : `<section class="card"><div class="banner bad">Learning: ${esc(errorText(l.reason))}</div></section>`;
    body.innerHTML = html;
    body.dataset.loaded = 'true';
    const ok = b.status === 'fulfilled' && l.status === 'fulfilled';
    live.classList.toggle('stale', !ok);
    updated.textContent = (ok ? 'Live · updated ' : 'Partly updated ') + clock(new Date());
  }
  function tick() {
    if (!alive) return;
    if (document.visibilityState !== 'hidden') load();
    timer = setTimeout(tick, REFRESH_MS);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}
