// Experiments: per experiment and variant, live: decisions, conversions,
// conversion rate, revenue per decision, uplift against the first variant
// with its 95% interval (an interval bar), the sample-ratio check; the
// holdout and the layers. Refreshed every few seconds without reloading.

import { api } from '../api.js';
import { esc, int, num, money, pct, pp, signedMoney, clock, pill, errorText } from '../fmt.js';
import { intervalBar } from '../charts.js';

export const title = 'Experiments';
export const REFRESH_MS = 3000;

/**
 * An uplift's interval as shown: a difference of two rates lies within
 * ±100 pp, so the normal approximation's interval (which passes those on a
 * handful of decisions) is clipped to them.
 */
function clipped(ci) {
  if (!ci) return [null, null];
  return [Math.max(-1, ci[0]), Math.min(1, ci[1])];
}

/** The axis of an experiment's interval bars: zero and every interval, padded. */
function axis(intervals) {
  let lo = 0;
  let hi = 0;
  for (const [a, b] of intervals.map(clipped)) { lo = Math.min(lo, a); hi = Math.max(hi, b); }
  if (hi - lo < 1e-9) { lo = -0.05; hi = 0.05; }
  const padv = (hi - lo) * 0.08;
  return [lo - padv, hi + padv];
}

function srm(sr) {
  if (!sr) return '';
  if (sr.mismatch) return pill('Sample ratio mismatch', 'bad', `p = ${sr.p_value != null ? sr.p_value.toPrecision(2) : '?'}: the split is not what the weights say; check the assignment before reading results`);
  if (sr.p_value == null) return pill('Sample ratio: too few', 'off', 'Too few decisions to check the split');
  return pill('Sample ratio OK', 'ok', `p = ${sr.p_value.toPrecision(2)}`);
}

function statusPill(s) {
  const kind = s === 'running' ? 'ok' : s === 'stopped' || s === 'ended' ? 'off' : 'info';
  return pill(s ? s[0].toUpperCase() + s.slice(1) : 'Unknown', kind);
}

function upliftCells(u, control, ax, label, currency) {
  if (!u) return `<td class="num muted">${control ? 'baseline' : '–'}</td><td class="ci-cell">${control ? '' : intervalBar({ lo: null, hi: null, min: ax[0], max: ax[1], width: 180 })}</td><td class="num muted">–</td>`;
  const [lo, hi] = clipped(u.ci95);
  const rv = u.revenue_per_decision;
  const rci = u.revenue_ci95;
  return `<td class="num">${pp(u.conversion_rate)}</td>
    <td class="ci-cell">${intervalBar({ lo, hi, est: u.conversion_rate, min: ax[0], max: ax[1], width: 180, label: `${label}: ${pp(u.conversion_rate)}, 95% interval ${pp(lo)} to ${pp(hi)}` })}
      <div class="ci-text small muted num">${pp(lo)} … ${pp(hi)}</div></td>
    <td class="num">${rv != null ? signedMoney(rv, currency) : '–'}${rci ? `<div class="small muted">${signedMoney(rci[0], currency)} … ${signedMoney(rci[1], currency)}</div>` : ''}</td>`;
}

function countsCells(c) {
  return `<td class="num decisions">${int(c.decisions)}</td>
    <td class="num conversions">${int(c.conversions)}</td>
    <td class="num">${pct(c.conversion_rate)}</td>
    <td class="num">${money(c.revenue_per_decision, c.currency)}</td>`;
}

function experimentCard(e) {
  const ints = e.variants.filter((v) => v.uplift && v.uplift.ci95).map((v) => v.uplift.ci95);
  const ax = axis(ints);
  return `<section class="card exp" data-exp="${esc(e.id)}">
    <div class="card-head"><div><h2>${esc(e.id)}</h2><div class="tags">${e.layer ? `<span class="tag">layer ${esc(e.layer)}</span>` : ''}<span class="tag">${num(e.traffic)}% of traffic</span></div></div>
      <div class="pills">${statusPill(e.status)} ${srm(e.sample_ratio)}</div></div>
    <div class="table-wrap"><table class="data">
      <thead><tr><th>Variant</th><th class="num">Decisions</th><th class="num">Conversions</th><th class="num">Conv. rate</th><th class="num">Revenue / decision</th><th class="num">Uplift</th><th>95% interval <span class="muted small">(vs ${esc(e.variants[0] ? e.variants[0].id : 'control')})</span></th><th class="num">Revenue uplift</th></tr></thead>
      <tbody>${e.variants.map((v, i) => `<tr data-variant="${esc(v.id)}"><td><div class="strong">${esc(v.id)}</div><div class="muted small">${v.weight != null ? num(v.weight) + '% of the experiment' : ''}${i === 0 && v.id !== 'control' ? ' · baseline' : ''}</div></td>
        ${countsCells(v)}${upliftCells(v.uplift, i === 0, ax, v.id, v.currency)}</tr>`).join('')}</tbody>
    </table></div></section>`;
}

function holdoutCard(h) {
  if (!h) return '';
  const ax = axis(h.uplift && h.uplift.ci95 ? [h.uplift.ci95] : []);
  return `<section class="card" id="holdout">
    <div class="card-head"><div><h2>Holdout</h2><div class="muted small">${num(h.percent)}% of customers get no offer at all: what every offer together adds.</div></div></div>
    <div class="table-wrap"><table class="data"><thead><tr><th>Group</th><th class="num">Decisions</th><th class="num">Conversions</th><th class="num">Conv. rate</th><th class="num">Revenue / decision</th><th class="num">Uplift</th><th>95% interval <span class="muted small">(vs held out)</span></th><th class="num">Revenue uplift</th></tr></thead>
    <tbody><tr data-variant="held_out"><td class="strong">Held out</td>${countsCells(h.held_out)}${upliftCells(null, true, ax, '', h.held_out.currency)}</tr>
    <tr data-variant="served"><td class="strong">Served</td>${countsCells(h.served)}${upliftCells(h.uplift, false, ax, 'served', h.served.currency)}</tr></tbody></table></div></section>`;
}

function layersCard(ls) {
  if (!ls || !ls.length) return '';
  return `<section class="card" id="layers"><div class="card-head"><h2>Layers</h2><span class="muted small">A customer is in at most one experiment of a layer.</span></div>
    <div class="table-wrap"><table class="data"><thead><tr><th>Layer</th><th>Experiments</th><th class="num">Traffic in experiments</th></tr></thead>
    <tbody>${ls.map((l) => `<tr><td class="strong">${esc(l.id)}</td><td>${l.experiments.map((x) => `<span class="chip">${esc(x)}</span>`).join('')}</td><td class="num">${num(l.traffic)}%</td></tr>`).join('')}</tbody></table></div></section>`;
}

export function mount(root) {
  root.innerHTML = `
    <header class="page-head"><div><h1>Experiments</h1><p class="muted">Live results per variant, from the fleet's counters. Uplift is against the first variant, with its 95% interval.</p></div>
      <div class="live" id="exp-live"><span class="dot"></span><span id="exp-updated">connecting…</span></div></header>
    <div id="exp-body"><div class="loading">Loading experiments…</div></div>`;
  const body = root.querySelector('#exp-body');
  const updated = root.querySelector('#exp-updated');
  const live = root.querySelector('#exp-live');
  let timer = 0;
  let alive = true;
  let busy = false;

  async function load() {
    if (busy) return;
    busy = true;
    try {
      const v = await api('/v1/experiments');
      if (!alive) return;
      const exps = v.experiments || [];
      body.innerHTML = (exps.length ? exps.map(experimentCard).join('') : '<section class="card"><div class="empty">No experiment in the rules. Add one in experiments.yaml.</div></section>')
        + holdoutCard(v.holdout) + layersCard(v.layers);
      body.dataset.asOf = v.as_of;
      updated.textContent = 'Live · updated ' + clock(new Date());
      live.classList.remove('stale');
    } catch (e) {
      if (!alive) return;
      live.classList.add('stale');
      updated.textContent = 'Not updated: ' + errorText(e);
      if (!body.dataset.asOf) body.innerHTML = `<div class="banner bad">Could not read the experiments: ${esc(errorText(e))}</div>`;
    } finally {
      busy = false;
    }
  }
  function tick() {
    if (!alive) return;
    if (document.visibilityState !== 'hidden') load();
    timer = setTimeout(tick, REFRESH_MS);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}
