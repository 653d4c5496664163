// The API client: JSON in and out, and the API key. When the server
// answers 401 the console asks for a key once (one dialog for every
// request waiting), keeps it in sessionStorage (this tab only) and sends
// it as "Authorization: Bearer KEY".

export const KEY_STORAGE = 'arbiter.apiKey';

/** An error answer of the API: status, the spec's code, message and field. */
export class ApiError extends Error {
  constructor(status, body, text) {
    const e = body && body.error ? body.error : {};
    super(e.message || text || ('HTTP ' + status));
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
  }
}

let asking = null; // the pending key prompt, shared by concurrent requests
let declined = false; // the user cancelled the prompt: do not ask again until they say so

function askKey(refused) {
  if (asking) return asking;
  const dlg = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  const err = document.getElementById('key-error');
  const form = document.getElementById('key-form');
  const cancel = document.getElementById('key-cancel');
  err.hidden = !refused;
  err.textContent = refused ? 'The key was refused: check it and try again.' : '';
  input.value = '';
  asking = new Promise((resolve) => {
    const done = (key) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onCancel);
      if (dlg.open) dlg.close();
      asking = null;
      resolve(key);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      document.dispatchEvent(new CustomEvent('arbiter:key'));
      done(key);
    };
    const onCancel = () => done('');
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    // Escape closes a modal dialog by itself: that is a Cancel too (else
    // every request would wait for ever on a prompt no longer shown).
    dlg.addEventListener('close', onCancel);
    dlg.showModal();
    input.focus();
  });
  return asking;
}

/** Forgets the key of this tab. */
export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
  document.dispatchEvent(new CustomEvent('arbiter:key'));
}

/** Whether a key is kept for this tab. */
export function hasKey() { return !!sessionStorage.getItem(KEY_STORAGE); }

/** Whether the user cancelled the key prompt (the console then stops asking). */
export function keyDeclined() { return declined; }

/** Lets the console ask for a key again after a cancelled prompt. */
export function allowKeyPrompt() { declined = false; }

/**
 * Calls the API: api('/v1/rules'), api('/v1/decide', {method: 'POST', body}).
 * Resolves to the decoded JSON; rejects with an ApiError.
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  let refused = false;
  for (;;) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    const headers = { Accept: 'application/json' };
    if (key) headers.Authorization = 'Bearer ' + key;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) {
      const current = sessionStorage.getItem(KEY_STORAGE);
      if (current && current !== key) continue; // another request got a key meanwhile
      if (key) { sessionStorage.removeItem(KEY_STORAGE); refused = true; }
      const got = declined ? '' : await askKey(refused);
      if (!got) {
        if (!declined) { declined = true; document.dispatchEvent(new CustomEvent('arbiter:key')); }
        throw new ApiError(401, null, 'This server needs an API key: use "Enter API key" in the menu.');
      }
      continue;
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) throw new ApiError(res.status, data, text);
    return data;
  }
}
