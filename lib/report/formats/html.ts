/**
 * One self-contained HTML file (inline CSS and script, no request when opened: a CSP forbids any):
 * per scan its score, summary counts and errors; the network scan's picture (lib/report/graph.ts,
 * laid out by @dagrejs/dagre, drawn as inline SVG, each link styled by its state, with a legend);
 * and one findings table over every scan that a person filters by text, result, severity and scan.
 * Markup is built with hono/html's `h` template, which escapes every interpolated value.
 */
import dagre from '@dagrejs/dagre';
import { html, raw } from 'hono/html';
import type { Check } from '../../scan/checks.ts';
import { SEVERITY_ORDER } from '../gate.ts';
import { STATE_STYLE, type LinkState, type ReportGraph } from '../graph.ts';
import type { RenderOptions, ScanResult } from '../types.ts';

type Html = ReturnType<typeof raw>;
/** hono/html's template, synchronous here (nothing interpolated is a promise). */
const h = (strings: TemplateStringsArray, ...values: unknown[]): Html => html(strings, ...values) as Html;

const PALETTE = ['#e3f2fd', '#f3e5f5', '#e8f5e9', '#fff8e1', '#fce4ec', '#e0f7fa', '#f1f8e9', '#ede7f6', '#fbe9e7', '#eceff1'];
const hash = (s: string) => [...s].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7);
const scoreColor = (s: number | null) => (s === null ? '#757575' : s >= 90 ? '#2e7d32' : s >= 70 ? '#f9a825' : '#c62828');
const f1 = (n: number) => Math.round(n * 10) / 10;

function svgGraph(g: ReportGraph, idx: number): Html {
  const dg = new dagre.graphlib.Graph({ multigraph: true });
  dg.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 120, edgesep: 14, marginx: 16, marginy: 16 });
  dg.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) dg.setNode(n.id, { width: Math.max(110, 8 * Math.max(n.label.length, (n.namespace ?? '').length + 4) + 24), height: 46 });
  g.edges.forEach((e, i) => dg.setEdge(e.from, e.to, { width: e.label ? 7 * e.label.length : 0, height: e.label ? 14 : 0, labelpos: 'c' }, `e${i}`));
  dagre.layout(dg);
  const { width = 400, height = 200 } = dg.graph();
  const states = [...new Set(g.edges.map((e) => e.state))];
  const markers = states.map(
    (s) =>
      h`<marker id="arrow-${idx}-${s}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z" fill="${STATE_STYLE[s].color}"/></marker>`,
  );
  const edges = g.edges.map((e, i) => {
    const de = dg.edge({ v: e.from, w: e.to, name: `e${i}` });
    const pts = de.points ?? [];
    const d = pts.map((p: { x: number; y: number }, j: number) => `${j ? 'L' : 'M'}${f1(p.x)},${f1(p.y)}`).join(' ');
    const st = STATE_STYLE[e.state];
    return h`<g class="edge" data-state="${e.state}" data-from="${e.from}" data-to="${e.to}" data-declared="${String(e.declared)}"><title>${e.from}
    → ${e.to}${e.label ? ` (${e.label})` : ''}: ${st.label}
${e.detail.join('\n')}</title><path d="${d}" fill="none" stroke="${st.color}" stroke-width="${
      e.state === 'present' || e.state === 'PASS' ? 2 : 2.6
    }"${raw(st.dash ? ` stroke-dasharray="${st.dash}"` : '')} marker-end="url(#arrow-${idx}-${e.state})"/>${
      e.label && de.x !== undefined ? h`<text class="elabel" x="${f1(de.x)}" y="${f1(de.y + 4)}" text-anchor="middle" fill="${st.color}">${e.label}</text>` : ''
    }</g>`;
  });
  const nodes = g.nodes.map((n) => {
    const dn = dg.node(n.id);
    const x = dn.x - dn.width / 2;
    const y = dn.y - dn.height / 2;
    return h`<g class="node" data-id="${n.id}"><title>${n.id}${n.namespace ? ` (namespace ${n.namespace})` : ''}</title>
    <rect x="${f1(x)}" y="${f1(y)}" width="${f1(dn.width)}" height="${dn.height}" rx="8"
      fill="${PALETTE[hash(n.namespace ?? n.id) % PALETTE.length]}" stroke="#455a64"/><text x="${f1(dn.x)}" y="${f1(dn.y - 3)}" text-anchor="middle"
        class="nlabel">${n.label}</text>${
          n.namespace
            ? h`<text x="${f1(dn.x)}" y="${f1(dn.y + 13)}" text-anchor="middle"
          class="nns">ns ${n.namespace}</text>`
            : ''
        }</g>`;
  });
  const count = (s: LinkState) => g.edges.filter((e) => e.state === s).length;
  const legend = states.map(
    (s) =>
      h`<span class="lg"><svg width="36" height="10">
      <line x1="0" y1="5" x2="36" y2="5" stroke="${STATE_STYLE[s].color}"
        stroke-width="3"${raw(STATE_STYLE[s].dash ? ` stroke-dasharray="${STATE_STYLE[s].dash}"` : '')}/></svg>
        ${STATE_STYLE[s].label}: <b>${count(s)}</b></span>`,
  );
  return h`<figure class="graph"><figcaption>${g.title}</figcaption><div class="legend">${legend}</div>
  <svg class="topology" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f1(width)}
  ${f1(height)}" width="${f1(width)}" height="${f1(height)}" style="max-width:100%;height:auto" role="img" aria-label="${g.title}"><defs>${markers}
  </defs>${edges}${nodes}</svg></figure>`;
}

function summaryRows(summary: Record<string, unknown>): Html[] {
  const rows: Html[] = [];
  for (const [k, v] of Object.entries(summary)) {
    let val: string | undefined;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') val = String(v);
    else if (Array.isArray(v)) val = v.length ? v.map(String).join(', ') : undefined;
    else if (v && typeof v === 'object') {
      const inner = Object.entries(v)
        .filter(([, x]) => typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean')
        .map(([ik, x]) => `${ik} ${x}`);
      val = inner.length ? inner.join(', ') : undefined;
    }
    if (val !== undefined) rows.push(h`<tr><th>${k.replace(/_/g, ' ')}</th><td>${val.length > 200 ? `${val.slice(0, 200)}…` : val}</td></tr>`);
  }
  return rows;
}

function scanCard(r: ScanResult, i: number): Html {
  if (!r.report) {
    const f = r.failure!;
    return h`<section class="scan" id="scan-${r.scan}"><h2>${r.scan} <small>(${r.mode})</small></h2><p class="fail">Could not run: ${f.info.message}
    </p></section>`;
  }
  const rep = r.report;
  const by = (res: string) => r.checks.filter((c) => c.result === res).length;
  return h`<section class="scan" id="scan-${r.scan}">
<h2>${r.scan} <small>(${r.mode})</small></h2>
<div class="cards"><div class="score" style="border-color:${scoreColor(rep.score)}">
<span class="num" style="color:${scoreColor(rep.score)}">${rep.score ?? '–'}</span>
<span class="of">${rep.score === null ? 'could not decide' : '/ 100'}</span></div>
<div class="counts"><span class="c pass">${by('pass')} pass</span><span class="c fail">${by('fail')} fail</span><span class="c warn">${by('warn')}
warn</span><span class="c error">${by('error')} undecided</span><span class="c skip">${by('skip')} skipped</span>
<div class="meta">started ${rep.started_at} · ${rep.duration_ms} ms</div></div></div>
<details><summary>Summary</summary><table class="kv">${summaryRows(rep.summary)}</table></details>
${
  rep.errors.length
    ? h`<div class="errors"><b>Errors (the scan went on without these parts):</b><ul>${rep.errors.map(
        (e) => h`<li><code>${e.step}
</code>: ${e.message}</li>`,
      )}</ul></div>`
    : ''
}
${r.graph?.edges.length ? svgGraph(r.graph, i) : ''}
</section>`;
}

function findingRow(scan: string, c: Check): Html {
  const where = c.location
    ? `${c.location.file}${c.location.line ? `:${c.location.line}` : ''}`
    : c.resources.map((x) => [x.namespace, x.kind, x.name].filter(Boolean).join('/')).join(', ');
  return h`<tr data-scan="${scan}" data-result="${c.result}" data-severity="${c.severity}"><td>${scan}</td><td><span class="r ${c.result}">${c.result}
  </span></td><td><span class="s ${c.severity}">${c.severity}</span></td><td>${c.verdict}</td><td class="check">${c.policy}${
    c.rule
      ? h`<br>
  <small>${c.rule}</small>`
      : ''
  }</td><td>${c.message}</td><td class="where">${where}</td></tr>`;
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212121;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header .sub{opacity:.8;font-size:12px}
main{padding:16px 24px}.gate{padding:8px 12px;border-radius:6px;margin:0 0 12px;font-weight:600}.gate.ok{background:#e8f5e9;color:#1b5e20}
.gate.bad{background:#ffebee;color:#b71c1c}.gate.undecided{background:#eceff1;color:#37474f}
.scan{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:12px 16px;margin:0 0 16px}.scan h2{margin:0 0 8px;font-size:18px}
.cards{display:flex;gap:16px;align-items:center}.score{border:4px solid;border-radius:50%;width:84px;height:84px;display:flex;flex-direction:column;
align-items:center;justify-content:center}.score .num{font-size:26px;font-weight:700}.score .of{font-size:11px;color:#616161}
.counts .c{display:inline-block;margin-right:10px;padding:2px 8px;border-radius:10px;background:#eee}.c.pass{background:#e8f5e9}
.c.fail{background:#ffebee}.c.warn{background:#fff8e1}.c.error{background:#eceff1}.meta{color:#757575;font-size:12px;margin-top:6px}
table.kv th{text-align:left;padding-right:12px;color:#546e7a;font-weight:500}.errors{background:#fff3e0;padding:6px 10px;border-radius:6px;margin:8px 0}
figure.graph{margin:12px 0 0;overflow-x:auto}figcaption{font-weight:600;margin-bottom:4px}.legend{margin:4px 0 8px;font-size:12px}
.lg{margin-right:14px;white-space:nowrap}
svg.topology .nlabel{font:600 13px system-ui,sans-serif;fill:#263238}svg.topology .nns{font:11px system-ui,sans-serif;fill:#607d8b}
svg.topology .elabel{font:11px system-ui,sans-serif;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg.topology .edge:hover path{stroke-width:4}
.filters{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}.filters input{flex:1;min-width:200px;padding:4px 8px}
table.findings{border-collapse:collapse;width:100%;background:#fff}table.findings th,table.findings td{border-bottom:1px solid #eee;padding:4px 6px;
vertical-align:top;text-align:left}table.findings th{background:#eceff1;position:sticky;top:0}
td.check{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}td.where{font-family:ui-monospace,monospace;font-size:11px;
word-break:break-all;color:#455a64;min-width:240px}
.r,.s{padding:1px 6px;border-radius:8px;font-size:12px}.r.fail{background:#ffcdd2}.r.pass{background:#c8e6c9}.r.warn{background:#ffecb3}
.r.error{background:#cfd8dc}.r.skip{background:#eee}
.s.critical{background:#b71c1c;color:#fff}.s.high{background:#e53935;color:#fff}.s.medium{background:#fb8c00;color:#fff}.s.low{background:#fdd835}
.s.info{background:#e0e0e0}`;

const SCRIPT = `(function(){var q=document.getElementById('q'),r=document.getElementById('fr'),
  s=document.getElementById('fs'),c=document.getElementById('fc'),n=document.getElementById('shown');
var rows=[].slice.call(document.querySelectorAll('table.findings tbody tr'));var order=['critical','high','medium','low','info'];
function apply(){var t=q.value.toLowerCase(),k=0;
rows.forEach(function(tr){var ok=(!t||tr.textContent.toLowerCase().indexOf(t)>=0)&&(!r.value||(r.value==='problems'?tr.dataset.result!=='pass'&&
  tr.dataset.result!=='skip':tr.dataset.result===r.value))&&(!s.value||order.indexOf(tr.dataset.severity)<=order.indexOf(s.value))&&(!c.value||
    tr.dataset.scan===c.value);tr.hidden=!ok;if(ok)k++;});n.textContent=k+' of '+rows.length;}
[q,r,s,c].forEach(function(e){e.addEventListener('input',apply);});apply();})();`;

export function renderHtml(results: ScanResult[], opts: RenderOptions = {}): string {
  const all = results
    .flatMap((r) => r.checks.map((c) => ({ scan: r.scan, c })))
    .sort((a, b) => SEVERITY_ORDER.indexOf(a.c.severity) - SEVERITY_ORDER.indexOf(b.c.severity));
  const gate = opts.gate;
  const gateHtml = gate
    ? h`<div class="gate ${gate.exitCode === 0 ? 'ok' : gate.exitCode === 1 ? 'bad' : 'undecided'}">
      Gate: ${gate.exitCode === 0 ? 'passed' : gate.exitCode === 1 ? 'failed' : 'could not decide'}
      ${gate.reasons.length ? h`<ul>${gate.reasons.map((x) => h`<li>${x}</li>`)}</ul>` : ''}</div>`
    : '';
  const title = `stack-scan report: ${results.map((r) => `${r.scan} (${r.mode})`).join(', ')}`;
  const doc = h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${title}</title><style>${raw(CSS)}</style></head>
<body><header><h1>${title}</h1><div class="sub">generated ${new Date().toISOString()}${opts.commandLine ? ` · ${opts.commandLine}` : ''}</div></header>
<main>${gateHtml}${results.map((r, i) => scanCard(r, i))}
<section class="scan"><h2>Findings</h2>
<div class="filters"><input id="q" type="search" placeholder="filter: text in any column (policy, namespace, file, message)" aria-label="filter text">
<select id="fr" aria-label="result"><option value="problems">problems (not pass)</option><option value="">every result</option><option>fail</option>
<option>warn</option><option>error</option><option>pass</option><option>skip</option></select>
<select id="fs" aria-label="severity"><option value="">any severity</option>${SEVERITY_ORDER.map(
    (s) => h`<option value="${s}">${s}
or worse</option>`,
  )}</select>
<select id="fc" aria-label="scan"><option value="">every scan</option>${results.map((r) => h`<option>${r.scan}</option>`)}</select> <span id="shown">
</span></div>
<table class="findings"><thead><tr><th>scan</th><th>result</th><th>severity</th><th>verdict</th><th>check</th><th>message</th><th>where</th></tr></thead>
<tbody>${all.map(({ scan, c }) => findingRow(scan, c))}</tbody></table></section></main>
<script>${raw(SCRIPT)}</script></body></html>
`;
  return doc.toString() as string;
}
