// GET /docs: one self-contained HTML page that fetches /openapi.json (same origin) and renders every
// operation with its parameters, request body and responses. No CDN, no external assets; the CSP
// allows scripts only with this response's nonce and connections only to the same origin.

const STYLE = `
  :root { color-scheme: light dark; --fg: #1d1f23; --muted: #5b6270; --bg: #fff; --panel: #f5f6f8; --line: #dde0e6; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #9aa2b1; --bg: #16181c; --panel: #1f2227; --line: #2f333a; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); display: flex; }
  nav { width: 290px; height: 100vh; position: sticky; top: 0; overflow: auto; padding: 16px; border-right: 1px solid var(--line); background: var(--panel); flex: none; }
  nav a { display: block; color: inherit; text-decoration: none; padding: 2px 0; font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  nav h3 { margin: 14px 0 4px; font-size: 12px; text-transform: uppercase; color: var(--muted); }
  main { flex: 1; padding: 24px 40px; max-width: 1000px; }
  section.op { border: 1px solid var(--line); border-radius: 8px; padding: 12px 18px; margin: 18px 0; }
  .method { display: inline-block; min-width: 62px; font: 700 12px monospace; text-transform: uppercase; padding: 2px 6px; border-radius: 4px; color: #fff; text-align: center; }
  .get { background: #2f7d32; } .post { background: #1f5fbf; } .delete { background: #b3261e; } .put, .patch { background: #a05a00; }
  code, .path { font-family: ui-monospace, monospace; }
  .path { font-weight: 600; margin-left: 8px; }
  h4 { margin: 14px 0 6px; font-size: 13px; color: var(--muted); text-transform: uppercase; }
  table { border-collapse: collapse; width: 100%; font-size: 14px; }
  td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  ul.schema { list-style: none; margin: 2px 0; padding-left: 18px; border-left: 1px dashed var(--line); font-size: 14px; }
  .type { color: var(--muted); font-family: ui-monospace, monospace; font-size: 13px; }
  .req { color: #b3261e; font-size: 12px; }
  .desc { color: var(--muted); }
  .status { font-family: ui-monospace, monospace; font-weight: 700; }
`;

// Runs in the browser. Builds the DOM with textContent only (no HTML injection from the document).
const SCRIPT = `
(async () => {
  const main = document.querySelector('main');
  const nav = document.querySelector('nav');
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) if (k != null) e.append(k);
    return e;
  };
  let doc;
  try {
    const res = await fetch('/openapi.json', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    doc = await res.json();
  } catch (err) {
    main.append(el('p', {}, 'Could not load /openapi.json: ' + err.message));
    return;
  }
  const resolve = (s) => {
    if (s && s.$ref) return { name: s.$ref.split('/').pop(), schema: s.$ref.split('/').slice(1).reduce((o, k) => o && o[k], doc) || {} };
    return { name: null, schema: s || {} };
  };
  const typeOf = (s) => {
    const { name, schema } = resolve(s);
    let t = schema.type ? [].concat(schema.type).join(' | ') : (schema.anyOf || schema.oneOf) ? 'one of' : schema.enum ? 'enum' : 'any';
    if (t === 'array') t = 'array of ' + typeOf(schema.items || {});
    if (schema.enum) t += ' (' + schema.enum.map((v) => JSON.stringify(v)).join(', ') + ')';
    if (schema.format) t += ' <' + schema.format + '>';
    const range = [];
    if (schema.minimum !== undefined) range.push('>= ' + schema.minimum);
    if (schema.maximum !== undefined) range.push('<= ' + schema.maximum);
    if (schema.minLength !== undefined) range.push('min length ' + schema.minLength);
    if (schema.maxLength !== undefined) range.push('max length ' + schema.maxLength);
    if (schema.minItems !== undefined) range.push('min items ' + schema.minItems);
    if (schema.maxItems !== undefined) range.push('max items ' + schema.maxItems);
    if (range.length) t += ', ' + range.join(', ');
    return name ? name + ' (' + t + ')' : t;
  };
  const renderSchema = (s, depth, seen) => {
    const { name, schema } = resolve(s);
    if (depth > 8 || (name && seen.includes(name))) return null;
    const next = name ? seen.concat(name) : seen;
    const target = schema.type === 'array' ? resolve(schema.items).schema : schema;
    const list = el('ul', { class: 'schema' });
    const props = target.properties || {};
    const required = target.required || [];
    for (const [key, prop] of Object.entries(props)) {
      const p = resolve(prop).schema;
      list.append(el('li', {},
        el('code', {}, key), ' ', el('span', { class: 'type' }, typeOf(prop)),
        required.includes(key) ? el('span', { class: 'req' }, ' required') : null,
        p.description || prop.description ? el('span', { class: 'desc' }, ' — ' + (prop.description || p.description)) : null,
        renderSchema(prop, depth + 1, next)));
    }
    if (target.additionalProperties === false && Object.keys(props).length) {
      list.append(el('li', { class: 'desc' }, 'No other fields are accepted.'));
    } else if (target.additionalProperties && typeof target.additionalProperties === 'object') {
      list.append(el('li', {}, el('code', {}, '{key}'), ' ', el('span', { class: 'type' }, typeOf(target.additionalProperties))));
    }
    for (const alt of target.anyOf || target.oneOf || []) {
      list.append(el('li', {}, el('span', { class: 'type' }, typeOf(alt)), renderSchema(alt, depth + 1, next)));
    }
    return list.childElementCount ? list : null;
  };
  const info = doc.info || {};
  document.title = (info.title || 'API') + ' ' + (info.version || '');
  main.append(el('h1', {}, (info.title || 'API') + ' ', el('small', { class: 'desc' }, info.version || '')));
  if (info.description) main.append(el('p', {}, info.description));
  main.append(el('p', { class: 'desc' }, 'OpenAPI ' + doc.openapi + ' document: ', el('a', { href: '/openapi.json' }, '/openapi.json')));
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || 'Other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op, shared: item.parameters || [] });
    }
  }
  let n = 0;
  for (const [tag, ops] of byTag) {
    nav.append(el('h3', {}, tag));
    main.append(el('h2', {}, tag));
    for (const { path, method, op, shared } of ops) {
      const id = 'op' + n++;
      nav.append(el('a', { href: '#' + id }, el('span', { class: 'method ' + method }, method), ' ', path));
      const sec = el('section', { class: 'op', id },
        el('div', {}, el('span', { class: 'method ' + method }, method), el('span', { class: 'path' }, path)));
      if (op.summary) sec.append(el('p', {}, el('strong', {}, op.summary)));
      if (op.description) sec.append(el('p', { class: 'desc' }, op.description));
      const security = op.security || doc.security || [];
      sec.append(el('p', { class: 'desc' }, 'Auth: ' + (security.length ? security.map((s) => Object.keys(s).join(' + ')).join(' or ') : 'none')));
      const params = shared.concat(op.parameters || []).map((p) => resolve(p).schema);
      if (params.length) {
        const t = el('table', {}, el('tr', {}, el('th', {}, 'Parameter'), el('th', {}, 'In'), el('th', {}, 'Type'), el('th', {}, 'Description')));
        for (const p of params) {
          t.append(el('tr', {}, el('td', {}, el('code', {}, p.name), p.required ? el('span', { class: 'req' }, ' required') : null),
            el('td', {}, p.in), el('td', { class: 'type' }, typeOf(p.schema || {})), el('td', {}, p.description || (p.schema && p.schema.description) || '')));
        }
        sec.append(el('h4', {}, 'Parameters'), t);
      }
      const body = op.requestBody && resolve(op.requestBody).schema;
      if (body && body.content) {
        sec.append(el('h4', {}, 'Request body' + (body.required ? '' : ' (optional)')));
        for (const [type, media] of Object.entries(body.content)) {
          sec.append(el('div', {}, el('code', {}, type), ' ', el('span', { class: 'type' }, typeOf(media.schema || {})), renderSchema(media.schema || {}, 0, [])));
        }
      }
      sec.append(el('h4', {}, 'Responses'));
      for (const [status, r] of Object.entries(op.responses || {})) {
        const resp = resolve(r).schema;
        const row = el('div', {}, el('span', { class: 'status' }, status), ' ', resp.description || '');
        sec.append(row);
        for (const [type, media] of Object.entries(resp.content || {})) {
          if (Number(status) >= 400) { row.append(' ', el('span', { class: 'type' }, typeOf(media.schema || {}))); continue; }
          sec.append(el('div', {}, el('code', {}, type), ' ', el('span', { class: 'type' }, typeOf(media.schema || {})), renderSchema(media.schema || {}, 0, [])));
        }
      }
      main.append(sec);
    }
  }
})();
`;

/** The page and its Content-Security-Policy (the inline script runs only with `nonce`). */
export function docsPage(title: string, nonce: string): { html: string; csp: string } {
  const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<nav aria-label="Operations"></nav>
<main><noscript>This page renders <a href="/openapi.json">/openapi.json</a> with JavaScript.</noscript></main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}
