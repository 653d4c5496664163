// The console's shell: the router (#/rules, #/playground, #/experiments,
// #/budgets), the ruleset badge and the key's button.

import { api, forgetKey, hasKey, keyDeclined, allowKeyPrompt } from './api.js';
import { esc } from './fmt.js';
import * as rules from './pages/rules.js';
import * as playground from './pages/playground.js';
import * as experiments from './pages/experiments.js';
import * as budgets from './pages/budgets.js';

const pages = { rules, playground, experiments, budgets };
let current = null; // { name, unmount }

function pageName() {
  const m = /^#\/([a-z]+)/.exec(location.hash);
  return m && pages[m[1]] ? m[1] : 'rules';
}

function route() {
  const name = pageName();
  if (current && current.unmount) current.unmount();
  const root = document.getElementById('page');
  root.innerHTML = '';
  root.dataset.page = name;
  for (const a of document.querySelectorAll('a.nav')) {
    a.classList.toggle('active', a.dataset.page === name);
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = pages[name].title + ' · Arbiter';
  current = { name, unmount: pages[name].mount(root) };
  badge(); // the ruleset may have changed, or failed to reload, meanwhile
}

async function badge() {
  const el = document.getElementById('ruleset-badge');
  try {
    const r = await api('/v1/rules');
    el.innerHTML = `ruleset <code>${esc(r.version)}</code>` + (r.last_error ? ' <span class="pill bad">reload failed</span>' : '');
  } catch (e) {
    el.textContent = 'ruleset unknown';
  }
}

function keyButton() {
  document.getElementById('forget-key').hidden = !hasKey();
  document.getElementById('enter-key').hidden = !keyDeclined();
}

window.addEventListener('hashchange', route);
document.addEventListener('arbiter:key', keyButton);
document.addEventListener('arbiter:rules', badge);
document.getElementById('forget-key').addEventListener('click', () => { forgetKey(); location.reload(); });
document.getElementById('enter-key').addEventListener('click', () => { allowKeyPrompt(); keyButton(); route(); });
if (!location.hash) history.replaceState(null, '', '#/rules');
route();
keyButton();
