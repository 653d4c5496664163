// Charts as inline SVG, drawn here: an interval bar (an estimate and its
// 95% interval against zero) and a stacked bar (committed, held,
// remaining, with the pace marker).

import { esc } from './fmt.js';

function clamp(x, lo, hi) { return Math.max(lo, Math.min(hi, x)); }

/**
 * An interval on a shared axis [min, max]: a bar from lo to hi, a dot at
 * the estimate, a line at zero (when zero is on the axis). Green when the
 * whole interval is above zero, red when below, grey when it holds zero;
 * tone 'neutral' draws it in blue with no zero line (a posterior).
 */
export function intervalBar({ lo, hi, est, min, max, width = 220, height = 26, label = '', zero = 0, tone = '' }) {
  if (lo == null || hi == null || !(max > min)) {
    return `<svg class="chart interval" width="${width}" height="${height}" role="img" aria-label="no interval yet"><line x1="8" x2="${width - 8}" y1="${height / 2}" y2="${height / 2}" class="axis"/></svg>`;
  }
  const pad = 8;
  const x = (v) => pad + (clamp(v, min, max) - min) / (max - min) * (width - 2 * pad);
  const cls = tone || (lo > zero ? 'pos' : hi < zero ? 'neg' : 'flat');
  const y = height / 2;
  const zx = x(zero);
  const showZero = !tone && zero >= min && zero <= max;
  return `<svg class="chart interval ${cls}" width="${width}" height="${height}" role="img" aria-label="${esc(label)}">`
    + `<line x1="${pad}" x2="${width - pad}" y1="${y}" y2="${y}" class="axis"/>`
    + (showZero ? `<line x1="${zx}" x2="${zx}" y1="3" y2="${height - 3}" class="zero"/>` : '')
    + `<rect x="${x(lo)}" y="${y - 4}" width="${Math.max(2, x(hi) - x(lo))}" height="8" rx="4" class="ci"/>`
    + (est == null ? '' : `<circle cx="${x(est)}" cy="${y}" r="4.5" class="est"/>`)
    + `<title>${esc(label)}</title></svg>`;
}

/**
 * A horizontal stacked bar of parts [{value, cls, label}] over total, with
 * an optional marker (the pace: what may be spent by now).
 */
export function stackBar(parts, total, { width = 360, height = 18, marker = null, markerLabel = '' } = {}) {
  const w = width;
  let x = 0;
  let rects = '';
  if (total > 0) {
    for (const p of parts) {
      const pw = clamp(p.value / total, 0, 1) * w;
      if (pw <= 0) continue;
      const pwc = Math.min(pw, w - x);
      rects += `<rect x="${x}" y="0" width="${pwc}" height="${height}" class="${p.cls}"><title>${esc(p.label)}</title></rect>`;
      x += pwc;
    }
  }
  let mark = '';
  if (marker != null && total > 0) {
    const mx = clamp(marker / total, 0, 1) * w;
    mark = `<line x1="${mx}" x2="${mx}" y1="-3" y2="${height + 3}" class="pace"><title>${esc(markerLabel)}</title></line>`;
  }
  return `<svg class="chart stack" viewBox="0 -3 ${w} ${height + 6}" width="${w}" height="${height + 6}" preserveAspectRatio="none" role="img" aria-label="${esc(parts.map((p) => p.label).join(', '))}">`
    + `<rect x="0" y="0" width="${w}" height="${height}" rx="3" class="track"/>${rects}${mark}</svg>`;
}
