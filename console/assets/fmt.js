// Formatting and small DOM helpers shared by the pages.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML. */
export function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const numFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** 12,345 */
export function int(n) { return n == null || Number.isNaN(n) ? '–' : intFmt.format(n); }
/** 1,234.5 */
export function num(n, digits = 2) {
  if (n == null || Number.isNaN(n)) return '–';
  return digits === 2 ? numFmt.format(n) : new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(n);
}

// The minor digits of the ISO 4217 codes that do not have 2, as the
// server counts them (package currency; a Go test keeps this in step).
// Intl's own digits are CLDR's, which differ for some (HUF, IDR, COP and
// IRR show none, IQD none instead of 3): formatting with them rounded
// amounts the API gives exactly (1,234.56 HUF shown as 1,235).
export const MINOR_DIGITS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0,
  VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** The minor digits of an ISO 4217 code: 2 unless listed above. */
export function minorDigits(currency) { return MINOR_DIGITS[currency] ?? 2; }

const moneyFmts = new Map();
/** $1,234.50 in the currency's own decimals (ISO 4217's, as the API's). */
export function money(n, currency) {
  if (n == null || Number.isNaN(n)) return '–';
  if (!currency) return num(n);
  let f = moneyFmts.get(currency);
  if (!f) {
    const d = minorDigits(currency);
    try {
      f = new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: d, maximumFractionDigits: d });
    } catch { f = null; }
    moneyFmts.set(currency, f);
  }
  return f ? f.format(n) : num(n, minorDigits(currency)) + ' ' + currency;
}

/** $25,000 for whole amounts, $144.60 otherwise: for tight columns. */
export function moneyShort(n, currency) {
  if (n == null || Number.isNaN(n) || !Number.isInteger(n) || !currency) return money(n, currency);
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumFractionDigits: 0, minimumFractionDigits: 0 }).format(n);
  } catch { return money(n, currency); }
}

/** A rate 0..1 as a percentage: 12.3% */
export function pct(r, digits = 1) {
  if (r == null || Number.isNaN(r)) return '–';
  return (r * 100).toFixed(digits) + '%';
}

/** A difference of rates in percentage points: +1.2 pp */
export function pp(d, digits = 1) {
  if (d == null || Number.isNaN(d)) return '–';
  const s = (d * 100).toFixed(digits);
  return (d > 0 ? '+' : d < 0 ? '' : '±') + s + ' pp';
}

/** A signed amount: +$1.20 */
export function signedMoney(d, currency) {
  if (d == null || Number.isNaN(d)) return '–';
  return (d > 0 ? '+' : '') + money(d, currency);
}

/** 13:04:05 */
export function clock(t) {
  const d = t instanceof Date ? t : new Date(t);
  return d.toLocaleTimeString('en-GB', { hour12: false });
}

/** 3 Dec 2026, 13:04 (local time) */
export function when(t) {
  if (!t) return '–';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
}

/** A short time: "27 Nov 05:00" this year, "27 Nov 2025 05:00" another; midnight drops the hour. */
export function shortTime(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t ?? '');
  const sameYear = d.getFullYear() === new Date().getFullYear();
  const day = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: sameYear ? undefined : 'numeric' });
  const hm = d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });
  return hm === '00:00' ? day : day + ' ' + hm;
}

/** "168h0m0s" → "7 days", "720h0m0s" → "30 days", "30m" → "30 min" */
export function duration(s) {
  if (!s) return '';
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
  if (!m) return s;
  const secs = (+(m[1] || 0)) * 3600 + (+(m[2] || 0)) * 60 + (+(m[3] || 0));
  if (secs && secs % 86400 === 0) return plural(secs / 86400, 'day');
  if (secs && secs % 3600 === 0) return plural(secs / 3600, 'hour');
  if (secs && secs % 60 === 0) return plural(secs / 60, 'minute');
  return s;
}

/** plural(3, 'offer') → "3 offers" */
export function plural(n, word) { return int(n) + ' ' + word + (n === 1 ? '' : 's'); }

/** A status pill: pill('Active', 'ok'). Kinds: ok, off, warn, bad, info. */
export function pill(text, kind = 'off', title = '') {
  return `<span class="pill ${kind}"${title ? ` title="${esc(title)}"` : ''}>${esc(text)}</span>`;
}

/** Debounces fn by ms. */
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

/** The message of an error for the page, with its JSON path. */
export function errorText(e) {
  if (!e) return '';
  const field = e.field ? e.field + ': ' : '';
  return field + (e.message || String(e));
}
