// The /audit page's checks, run in the browser: the signed checkpoint against the verifier
// key the auditor supplies, and an entry's inclusion in the verified checkpoint's tree,
// hashed by the crypto profile of that key (blake3 for an Ed25519 key, SM3 for an SM2
// key). The page's data comes from the JSON API (same origin, the session cookie); every
// hash is computed here by verify.js, and every word shown comes from the page's message
// catalogue (the `data-msg` attribute), so this file holds no text a person reads.

import { VerifyError, checkInclusion, openNote, parseVerifierKey, toHex } from './verify.js';

/** Where the auditor's own key is remembered in this browser. */
const KEY_STORE = 'rotaledger.audit.verifier-key';

const section = document.getElementById('audit-check');
const msg = JSON.parse(section.dataset.msg);
const $ = (id) => document.getElementById(id);
const keyField = $('verifier-key');
const noteField = $('note-text');
const seqField = $('entry-seq');
const signatureResult = $('signature-result');
const inclusionResult = $('inclusion-result');

/** Where the key in the field came from: typed or pasted by the auditor, or this server. */
let keySource = 'pasted';

try {
  const remembered = localStorage.getItem(KEY_STORE);
  if (remembered) keyField.value = remembered;
} catch {
  // No storage (a private window's policy): the key is pasted each time.
}

keyField.addEventListener('input', () => {
  keySource = 'pasted';
  $('key-warning').hidden = true;
});

/** A message with `{name}` placeholders filled from `values`. */
function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}

/** GET a JSON API path with the session cookie; a refusal becomes fetch_failed. */
async function api(path) {
  let r;
  try {
    r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new VerifyError('fetch_failed', { detail: String(e) });
  }
  let body = null;
  try {
    body = await r.json();
  } catch {
    body = null;
  }
  if (!r.ok) {
    const err = body && body.error ? body.error : {};
    const detail = [r.status, err.reason, err.message].filter(Boolean).join(' ');
    throw new VerifyError('fetch_failed', { detail });
  }
  return body;
}

$('use-server-key').addEventListener('click', async () => {
  try {
    const k = await api('/api/v1/public-key');
    keyField.value = k.verifier_key ?? '';
    keySource = 'server';
    $('key-warning').hidden = false;
  } catch (e) {
    show(signatureResult, false, [], e);
  }
});

/** One `<dt>label</dt><dd>value</dd>` pair. */
function row(dl, label, value, code = true) {
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  if (code) {
    const c = document.createElement('code');
    c.textContent = value;
    dd.append(c);
  } else {
    dd.textContent = value;
  }
  dl.append(dt, dd);
}

/** The reason of a failure, in words, and the values worth showing beside it. */
function reason(e) {
  if (!(e instanceof VerifyError)) {
    return { code: 'internal', text: fill(msg.r_internal, { detail: String(e) }), rows: [] };
  }
  const d = e.detail ?? {};
  const text = fill(msg['r_' + e.code] ?? msg.r_internal, { detail: e.code, ...d });
  const rows = [];
  if (e.code === 'root_mismatch') {
    rows.push([msg.root_computed, d.computed], [msg.root_signed, d.expected]);
  } else if (e.code === 'entry_hash_differs') {
    rows.push([msg.entry_hash, d.computed], [msg.entry_hash_stated, d.stated]);
  } else if (e.code === 'key_id_mismatch') {
    rows.push([msg.key_id_stated, d.stated], [msg.key_id_computed, d.computed]);
  } else if (e.code === 'note_malformed') {
    rows.push([msg.technical, [d.part, d.line, d.why].filter((x) => x !== undefined).join(' · ')]);
  } else if (e.code === 'no_signature' || e.code === 'key_id_differs') {
    rows.push([msg.key_used, d.key], [msg.signatures_present, d.present]);
  }
  return { code: e.code, text, rows };
}

/**
 * Draws a verdict: 通过 / 未通过 with the reason, then the rows. `data-verdict` and
 * `data-reason` say the same for programs (the browser test reads them).
 */
function show(el, pass, rows, error, explain) {
  el.replaceChildren();
  el.className = 'verdict ' + (pass ? 'pass' : 'fail');
  const headline = document.createElement('p');
  headline.className = 'headline';
  const dl = document.createElement('dl');
  dl.className = 'profile';
  if (pass) {
    headline.textContent = '\u2714 ' + msg.pass;
    el.dataset.reason = '';
  } else {
    const r = reason(error);
    headline.textContent = '\u2718 ' + msg.fail + msg.colon + r.text;
    el.dataset.reason = r.code;
    rows = rows.concat(r.rows);
  }
  el.append(headline);
  if (pass && explain) {
    const p = document.createElement('p');
    p.textContent = explain;
    el.append(p);
  }
  for (const [label, value, code] of rows) row(dl, label, value, code);
  if (rows.length) el.append(dl);
  el.dataset.verdict = pass ? 'pass' : 'fail';
}

function running(el) {
  el.replaceChildren();
  el.className = 'verdict';
  el.dataset.verdict = 'running';
  el.dataset.reason = '';
  el.textContent = msg.running;
}

/** The key of the field, parsed and checked; remembered when it is the auditor's own. */
function theKey() {
  const text = keyField.value.trim();
  if (!text) throw new VerifyError('no_key');
  const key = parseVerifierKey(text);
  if (keySource === 'pasted') {
    try {
      localStorage.setItem(KEY_STORE, key.text);
    } catch {
      // Not remembered; the check itself is unaffected.
    }
  }
  return key;
}

/** What the key's verdict line says about where the key came from. */
function keyLabel(key) {
  return key.text + (keySource === 'server' ? msg.key_from_server : msg.key_pasted);
}

/** The checkpoint to check: the pasted one (advanced), else the server's latest. */
async function theNote() {
  const pasted = noteField.value;
  if (pasted.trim()) {
    // A text area's value has `\n` line ends; a paste often loses the final one.
    return { text: pasted.endsWith('\n') ? pasted : pasted + '\n', source: msg.note_pasted };
  }
  const j = await api('/api/v1/checkpoint');
  return { text: j.checkpoint?.text ?? '', source: msg.note_server };
}

/** The profile's algorithms, in words. */
function profileLabel(key) {
  return msg['profile_' + key.profile] ?? key.profile;
}

/**
 * Verifies the signature and draws its verdict: { checkpoint, key } (the checkpoint verified
 * and the key it verified with, whose profile the inclusion check hashes by), or null.
 */
async function checkSignature() {
  running(signatureResult);
  let key = null;
  let note = null;
  try {
    key = theKey();
    note = await theNote();
    const cp = openNote(note.text, key);
    show(signatureResult, true, [
      [msg.key_used, keyLabel(key)],
      [msg.profile, profileLabel(key), false],
      [msg.checkpoint_used, note.source, false],
      [msg.origin, cp.origin],
      [msg.size, String(cp.size)],
      [msg.root, toHex(cp.root)],
      [msg.time, cp.time],
    ], null, msg.signature_pass);
    return { checkpoint: cp, key };
  } catch (e) {
    const rows = [];
    if (key) rows.push([msg.key_used, keyLabel(key)]);
    if (note) rows.push([msg.checkpoint_used, note.source, false]);
    show(signatureResult, false, rows, e);
    return null;
  }
}

$('check-signature').addEventListener('click', () => {
  checkSignature();
});

$('check-inclusion').addEventListener('click', async () => {
  running(inclusionResult);
  const verified = await checkSignature();
  if (!verified) {
    show(inclusionResult, false, [], new VerifyError('checkpoint_unverified'));
    return;
  }
  const { checkpoint: cp, key } = verified;
  const seq = seqField.value.trim();
  const rows = [[msg.seq, seq]];
  try {
    if (!/^(0|[1-9][0-9]*)$/.test(seq) || BigInt(seq) >= 1n << 64n) {
      throw new VerifyError('bad_seq');
    }
    const n = BigInt(seq);
    if (n >= cp.size) {
      throw new VerifyError('seq_out_of_range', { seq, size: String(cp.size) });
    }
    // The entry as stored, and the proof against the size the *verified* checkpoint signs.
    const page = await api(`/api/v1/entries?from=${n}&to=${n + 1n}`);
    const entry = (page.entries ?? [])[0];
    if (!entry) throw new VerifyError('entry_missing', { seq });
    const answer = await api(`/api/v1/proofs/inclusion?seq=${n}&size=${cp.size}`);
    // Hashed by the profile of the auditor's key: a gm ledger's key is an SM2 key.
    const got = checkInclusion(cp, n, entry, answer.proof?.hashes ?? [], key.profile);
    rows.push(
      [msg.entry_hash, got.entryHash],
      [msg.leaf_hash, got.leafHash],
      [msg.root_computed, got.root],
      [msg.root_signed, toHex(cp.root)],
      [msg.size, String(cp.size)],
      [msg.profile, profileLabel(key), false],
      [msg.entry_body, entry.body],
    );
    show(inclusionResult, true, rows, null, fill(msg.inclusion_pass, { seq, size: String(cp.size) }));
  } catch (e) {
    show(inclusionResult, false, rows, e);
  }
});
