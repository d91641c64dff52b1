// The report writer: number formats, markdown tables, the machine table, plots (vega-lite
// specs rendered headless to SVG by vega, no browser) and the section of docs/benchmarks.md
// between `<!-- name:begin -->` and `<!-- name:end -->` (the rest of the file is kept).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---- numbers ---------------------------------------------------------------------------

/** Three significant figures or so: 2.06, 12.8, 254, 1,258. */
export function num(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && a < 0.1) return v.toFixed(3);
  if (a < 10) return v.toFixed(2);
  if (a < 100) return v.toFixed(1);
  return Math.round(v).toLocaleString('en-US');
}
export const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
export const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
/** "median (p25–p75)" of a summary. */
export const spread = (s, f = num) => (s && Number.isFinite(s.median) ? `${f(s.median)} (${f(s.p25)}–${f(s.p75)})` : '–');
export const met = (ok) => (ok ? '**met**' : '**not met**');
export const bold = (s) => `**${s}**`;
/** "1 round", "3 rounds". */
export const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// ---- markdown --------------------------------------------------------------------------

/** A markdown table; a column name ending in ':' is right-aligned (the colon is dropped). */
export function table(columns, rows) {
  const head = columns.map((c) => c.replace(/:$/, ''));
  const align = columns.map((c) => (c.endsWith(':') ? '---:' : '---'));
  return [`| ${head.join(' | ')} |`, `|${align.join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
}

export const loadText = (l) => `${l.start.toFixed(2)} at start, ${l.max.toFixed(2)} at most, ${l.end.toFixed(2)} at end`;

/** The machine table every section starts with; `load` is one Load summary or [label, Load] pairs. */
export function machineTable(m, load, libeventNote = 'system library') {
  const d = m.dirty ?? [];
  const commit = m.commit + (d.length ? ` (with uncommitted changes in ${d.slice(0, 4).join(', ')}${d.length > 4 ? ` and ${d.length - 4} more` : ''})` : '');
  const loads = Array.isArray(load) ? load.map(([k, l]) => `${k}: ${loadText(l)}`).join('; ') : loadText(load);
  const other = (Array.isArray(load) ? load.flatMap(([, l]) => l.other ?? []) : (load.other ?? [])).sort((a, b) => a - b);
  const otherRow = other.length
    ? [['other work while a benchmark process ran', `${other[other.length >> 1].toFixed(2)} (${other[0].toFixed(2)}–${other.at(-1).toFixed(2)}) of ${m.cores} cores busy with other processes or stolen by the hypervisor: median (min–max) over the ${other.length} processes`]]
    : [];
  return table(
    ['machine', ''],
    [
      ['CPU', `${m.cpu}, ${m.cores} cores`],
      ['memory', `${m.memoryGiB} GiB`],
      ['kernel', m.kernel],
      ['Node', m.node],
      ['libevent', `${m.libevent} (${libeventNote})`],
      ['commit', commit],
      ['1-min load average', loads],
      ...otherRow,
    ],
  );
}

/** The sentence that says a run shared the machine, when its load says so (the run itself counts ~1). */
export function sharedNote(maxLoad, cores) {
  if (!(maxLoad - 1 > 0.25 * cores)) return '';
  return (
    `Other work shared the machine during this run (1-min load average up to ${maxLoad.toFixed(2)} on ${cores} cores, about 1 of it the benchmark itself): ` +
    'rounds rotate so that it falls on every case alike and medians damp it, but the quartile bands are wider than on an idle machine.\n'
  );
}

// ---- plots -----------------------------------------------------------------------------

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
/** A subtitle broken at '; ' into lines that fit the plot's width (vega does not wrap). */
function wrap(text = '', width) {
  const max = Math.max(50, Math.floor(width / 6.2));
  const out = [];
  for (const part of text.split('; ')) {
    if (out.length && out.at(-1).length + part.length + 2 <= max) out[out.length - 1] += '; ' + part;
    else out.push(part);
  }
  return out;
}
const head = (title, subtitle, width) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: { text: title, subtitle: wrap(subtitle, width), anchor: 'start' },
  width,
  height: 240,
  background: 'white',
  config: { font: 'Helvetica, Arial, sans-serif', legend: { orient: 'bottom', title: null, labelLimit: 0 } },
});
const refLayers = (refLines = []) =>
  refLines.length
    ? [
        { data: { values: refLines }, mark: { type: 'rule', color: '#c0392b', strokeDash: [5, 4] }, encoding: { y: { field: 'value', type: 'quantitative' } } },
        {
          data: { values: refLines },
          mark: { type: 'text', align: 'right', dy: -5, color: '#c0392b', fontSize: 10 },
          encoding: { y: { field: 'value', type: 'quantitative' }, x: { value: 'width' }, text: { field: 'label' } },
        },
      ]
    : [];

/**
 * Grouped bars: `groups` along x (a '\n' breaks a label), one bar per series in each, whiskers
 * from lo to hi (p25–p75 unless `whiskers` says otherwise), optional value labels and dashed
 * reference lines.
 */
export function bars({ title, subtitle, yLabel, groups, series, log = false, refLines, labels = true, width, whiskers: whiskerText = 'p25–p75' }) {
  const names = series.map((s) => s.name);
  const rows = series.flatMap((s) =>
    groups.map((g, i) => ({ group: g, series: s.name, value: s.values[i], lo: s.lo?.[i], hi: s.hi?.[i], label: num(s.values[i]) })),
  ).filter((r) => r.value != null && Number.isFinite(r.value));
  const floor = log ? 10 ** Math.floor(Math.log10(Math.min(...rows.map((r) => r.value)))) : 0;
  const x = { field: 'group', type: 'nominal', sort: groups, title: null, axis: { labelAngle: 0, labelExpr: "split(datum.label, '\\n')" } };
  const xOffset = { field: 'series', sort: names };
  const y = { field: 'value', type: 'quantitative', title: yLabel + (log ? ' (log scale)' : ''), scale: log ? { type: 'log', domainMin: floor } : {} };
  const whiskers = rows.filter((r) => Number.isFinite(r.lo) && Number.isFinite(r.hi));
  return {
    ...head(title, subtitle + (whiskers.length ? `; whiskers ${whiskerText}` : ''), width ?? Math.max(360, groups.length * (series.length * 22 + 24))),
    data: { values: rows },
    layer: [
      { mark: 'bar', encoding: { x, xOffset, y: log ? { ...y } : y, y2: log ? { datum: floor } : undefined, color: { field: 'series', sort: names, scale: { range: COLORS } } } },
      ...(whiskers.length ? [{ transform: [{ filter: 'isValid(datum.lo)' }], mark: { type: 'rule', color: '#222', clip: true }, encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } }] : []),
      ...(labels ? [{ mark: { type: 'text', dy: -6, fontSize: 9 }, encoding: { x, xOffset, y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } } }] : []),
      ...refLayers(refLines),
    ],
  };
}

/** Lines through points with numeric x and y; a series with `dashed` has no markers (a fit). */
export function lines({ title, subtitle, xLabel, yLabel, series, xLog = false, yLog = false, refLines, labels = false, width = 560 }) {
  const names = series.map((s) => s.name);
  const rows = series.flatMap((s) => s.points.map((p) => ({ ...p, series: s.name, dashed: !!s.dashed, label: num(p.y) })));
  const x = { field: 'x', type: 'quantitative', title: xLabel + (xLog ? ' (log scale)' : ''), scale: xLog ? { type: 'log' } : {} };
  const y = { field: 'y', type: 'quantitative', title: yLabel + (yLog ? ' (log scale)' : ''), scale: yLog ? { type: 'log' } : {} };
  const color = { field: 'series', sort: names, scale: { domain: names, range: COLORS } };
  const has = (f) => ({ filter: f });
  return {
    ...head(title, subtitle, width),
    data: { values: rows },
    layer: [
      { transform: [has('!datum.dashed')], mark: { type: 'line', point: true }, encoding: { x, y, color } },
      { transform: [has('datum.dashed')], mark: { type: 'line', strokeDash: [6, 4] }, encoding: { x, y, color } },
      { transform: [has('isValid(datum.lo)')], mark: { type: 'rule', color: '#222', clip: true }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      ...(labels ? [{ transform: [has('!datum.dashed')], mark: { type: 'text', dx: 8, dy: -8, fontSize: 9 }, encoding: { x, y, text: { field: 'label' } } }] : []),
      ...refLayers(refLines),
    ],
  };
}

/** Renders a vega-lite spec to an SVG document, headless. */
export async function svg(spec) {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out + '\n';
}

// ---- the section -----------------------------------------------------------------------

/** Replaces the `<!-- name:begin -->` … `<!-- name:end -->` section of `file` (or appends it). */
export function writeSection(file, name, section) {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  let text;
  if (!existsSync(file)) {
    text = '# Benchmarks\n\nEach section below is written by its own script between its markers; re-running a script replaces only its section.\n\n' + section;
  } else {
    const old = readFileSync(file, 'utf8');
    const i = old.indexOf(begin);
    const j = old.indexOf(end);
    if (i >= 0 && j > i) text = old.slice(0, i) + section + old.slice(j + end.length).replace(/^\n/, '');
    else text = old.replace(/\n*$/, '\n\n') + section;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/**
 * Writes a suite's report: its plots (vega-lite specs) into docs/plots/ and its markdown into
 * its section of docs/benchmarks.md. Returns the files written.
 */
export async function writeReport(name, { source, markdown, plots = {} }) {
  const written = [];
  mkdirSync(path.join(root, 'docs/plots'), { recursive: true });
  for (const [file, spec] of Object.entries(plots)) {
    const out = path.join(root, 'docs/plots', file);
    writeFileSync(out, await svg(spec));
    written.push(out);
  }
  const doc = path.join(root, 'docs/benchmarks.md');
  const section =
    `<!-- ${name}:begin -->\n<!-- Generated by ${source}; edits between these markers are overwritten. -->\n` +
    markdown.replace(/\n*$/, '\n\n') +
    `Raw figures of the last run: \`bench/out/${name}-latest.json\` (not committed).\n<!-- ${name}:end -->\n`;
  writeSection(doc, name, section);
  written.push(doc);
  return written;
}
