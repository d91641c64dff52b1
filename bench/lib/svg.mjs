// A tiny SVG chart writer for the benchmark report: grouped bars with optional whiskers
// (spread), a linear or log10 y axis, and horizontal reference lines. No dependencies; the
// output is plain, deterministic SVG text that renders on GitHub.

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

const fmt = (v) => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return Number(v.toFixed(1)).toString();
  return Number(v.toPrecision(2)).toString();
};

// Linear ticks at 1, 2 or 5 times a power of ten, from 0 to at least `max`.
function linearTicks(max, count = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  const ticks = [];
  for (let t = 0; t < max + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

// Decades covering [min, max].
function logTicks(min, max) {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const ticks = [];
  for (let e = lo; e <= Math.max(hi, lo + 1); e++) ticks.push(10 ** e);
  return ticks;
}

/**
 * Grouped bar chart.
 * @param {object} spec
 * @param {string} spec.title
 * @param {string} [spec.subtitle]
 * @param {string} spec.yLabel
 * @param {string[]} spec.groups            labels along the x axis
 * @param {{name: string, values: (number|null)[], lo?: (number|null)[], hi?: (number|null)[]}[]} spec.series
 * @param {boolean} [spec.log]              log10 y axis
 * @param {{value: number, label: string}[]} [spec.refLines]
 * @param {boolean} [spec.valueLabels]      print each bar's value above it
 * @param {string} [spec.note]              small print, top right
 * @param {number} [spec.width]
 * @param {number} [spec.height]
 * @returns {string} SVG document
 */
export function barChart(spec) {
  const width = spec.width ?? 760;
  const height = spec.height ?? 380;
  const margin = { top: spec.subtitle ? 58 : 42, right: spec.refLines?.length ? 52 : 16, bottom: 64, left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const series = spec.series;
  const groups = spec.groups;

  const all = [];
  for (const s of series) {
    for (let i = 0; i < groups.length; i++) {
      for (const v of [s.values[i], s.lo?.[i], s.hi?.[i]]) if (v != null && Number.isFinite(v)) all.push(v);
    }
  }
  for (const r of spec.refLines ?? []) all.push(r.value);
  const dataMax = all.length ? Math.max(...all) : 1;
  const positive = all.filter((v) => v > 0);
  const dataMin = positive.length ? Math.min(...positive) : 1;

  let ticks;
  let y;
  if (spec.log) {
    ticks = logTicks(dataMin, dataMax);
    const lo = Math.log10(ticks[0]);
    const hi = Math.log10(ticks[ticks.length - 1]);
    y = (v) => margin.top + plotH - ((Math.log10(Math.max(v, ticks[0])) - lo) / (hi - lo)) * plotH;
  } else {
    ticks = linearTicks(dataMax * 1.08);
    const hi = ticks[ticks.length - 1];
    y = (v) => margin.top + plotH - (v / hi) * plotH;
  }
  const baseY = spec.log ? margin.top + plotH : y(0);

  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${margin.left}" y="22" font-size="15" font-weight="600" fill="#222">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${margin.left}" y="40" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  if (spec.note) {
    out.push(`<text x="${width - margin.right}" y="22" text-anchor="end" font-size="11" fill="#666">${escapeXml(spec.note)}</text>`);
  }

  // Grid and y axis.
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${ty}" y2="${ty}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${margin.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#444">${fmt(t)}</text>`);
  }
  const midY = margin.top + plotH / 2;
  out.push(
    `<text transform="translate(16 ${midY.toFixed(1)}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(spec.yLabel)}${spec.log ? ' (log scale)' : ''}</text>`,
  );
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#888"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${baseY.toFixed(1)}" y2="${baseY.toFixed(1)}" stroke="#888"/>`);

  // Bars.
  const groupW = plotW / Math.max(groups.length, 1);
  const inner = groupW * 0.78;
  const barW = inner / Math.max(series.length, 1);
  groups.forEach((label, gi) => {
    const gx = margin.left + gi * groupW + (groupW - inner) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const x = gx + si * barW;
      const color = s.color ?? PALETTE[si % PALETTE.length];
      if (v == null || !Number.isFinite(v)) {
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(baseY - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#999">n/a</text>`);
        return;
      }
      const top = y(v);
      out.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(barW - 2, 1).toFixed(1)}" height="${Math.max(baseY - top, 0).toFixed(1)}" fill="${color}"><title>${escapeXml(`${s.name}, ${label}: ${fmt(v)}`)}</title></rect>`,
      );
      const lo = s.lo?.[gi];
      const hi = s.hi?.[gi];
      if (lo != null && hi != null && Number.isFinite(lo) && Number.isFinite(hi)) {
        const cx = (x + barW / 2).toFixed(1);
        const w = Math.min(barW / 4, 5);
        out.push(
          `<path d="M${cx} ${y(hi).toFixed(1)}V${y(lo).toFixed(1)}M${(x + barW / 2 - w).toFixed(1)} ${y(hi).toFixed(1)}h${(2 * w).toFixed(1)}M${(x + barW / 2 - w).toFixed(1)} ${y(lo).toFixed(1)}h${(2 * w).toFixed(1)}" stroke="#222" stroke-width="1" fill="none"/>`,
        );
      }
      if (spec.valueLabels) {
        const ly = Math.min(top, hi != null && Number.isFinite(hi) ? y(hi) : top) - 4;
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="middle" font-size="10" fill="#333">${fmt(v)}</text>`);
      }
    });
    const lx = margin.left + gi * groupW + groupW / 2;
    const lines = String(label).split('\n');
    lines.forEach((line, li) => {
      out.push(`<text x="${lx.toFixed(1)}" y="${(margin.top + plotH + 16 + li * 14).toFixed(1)}" text-anchor="middle" fill="#333">${escapeXml(line)}</text>`);
    });
  });

  // Reference lines.
  for (const r of spec.refLines ?? []) {
    const ry = y(r.value).toFixed(1);
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${ry}" y2="${ry}" stroke="#c0392b" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${margin.left + plotW + 4}" y="${ry}" dominant-baseline="middle" font-size="11" fill="#c0392b">${escapeXml(r.label)}</text>`);
  }

  // Legend, bottom left.
  let lx = margin.left;
  const ly = height - 14;
  series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${lx + 17}" y="${ly}" fill="#333">${escapeXml(s.name)}</text>`);
    lx += 30 + 7 * s.name.length;
  });
  if (series.some((s) => s.lo)) {
    out.push(`<text x="${margin.left + plotW}" y="${ly}" text-anchor="end" font-size="11" fill="#666">whiskers: p25–p75</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// Ticks for a numeric x or y axis: decades (with 2 and 5 between them when few decades) on a
// log axis, 1-2-5 steps from 0 on a linear one.
function axisTicks(min, max, log) {
  if (!log) return linearTicks(max * 1.04);
  const decades = logTicks(min, max);
  if (decades.length > 4) return decades;
  const out = [];
  for (const d of decades) for (const m of [1, 2, 5]) if (d * m <= decades[decades.length - 1]) out.push(d * m);
  return out;
}

/**
 * Line chart with numeric x and y axes: each series is a polyline through its points, with
 * optional markers and whiskers (lo–hi) at each point. A series without markers and with
 * `dashed` suits a fitted curve.
 * @param {object} spec
 * @param {string} spec.title
 * @param {string} [spec.subtitle]
 * @param {string} spec.xLabel
 * @param {string} spec.yLabel
 * @param {{name: string, points: {x: number, y: number, lo?: number, hi?: number}[], markers?: boolean, dashed?: boolean, color?: string}[]} spec.series
 * @param {boolean} [spec.xLog]             log10 x axis
 * @param {boolean} [spec.yLog]             log10 y axis
 * (a linear axis always starts at 0)
 * @param {{value: number, label: string}[]} [spec.refLines]   horizontal reference lines
 * @param {boolean} [spec.valueLabels]      print each marker's y value next to it
 * @param {string} [spec.note]              small print, top right
 * @param {number} [spec.width]
 * @param {number} [spec.height]
 * @returns {string} SVG document
 */
export function lineChart(spec) {
  const width = spec.width ?? 640;
  const height = spec.height ?? 400;
  const margin = { top: spec.subtitle ? 58 : 42, right: spec.refLines?.length ? 52 : 24, bottom: 78, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const xs = [];
  const ys = [];
  for (const s of spec.series) {
    for (const p of s.points) {
      if (Number.isFinite(p.x)) xs.push(p.x);
      for (const v of [p.y, p.lo, p.hi]) if (v != null && Number.isFinite(v)) ys.push(v);
    }
  }
  for (const r of spec.refLines ?? []) ys.push(r.value);
  const pos = (a) => a.filter((v) => v > 0);

  const xTicks = spec.xLog ? axisTicks(Math.min(...pos(xs)), Math.max(...xs), true) : linearTicks(Math.max(...xs));
  const yTicks = axisTicks(spec.yLog ? Math.min(...pos(ys)) : 0, Math.max(...ys), spec.yLog);
  const scale = (ticks, log, lo, span, flip) => {
    const t0 = log ? Math.log10(ticks[0]) : ticks[0];
    const t1 = log ? Math.log10(ticks[ticks.length - 1]) : ticks[ticks.length - 1];
    return (v) => {
      const u = log ? Math.log10(Math.max(v, ticks[0])) : v;
      const f = (u - t0) / (t1 - t0);
      return flip ? lo + span - f * span : lo + f * span;
    };
  };
  const x = scale(xTicks, spec.xLog, margin.left, plotW, false);
  const y = scale(yTicks, spec.yLog, margin.top, plotH, true);

  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${margin.left}" y="22" font-size="15" font-weight="600" fill="#222">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${margin.left}" y="40" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  if (spec.note) {
    out.push(`<text x="${width - margin.right}" y="22" text-anchor="end" font-size="11" fill="#666">${escapeXml(spec.note)}</text>`);
  }

  // Grid and axes.
  for (const t of yTicks) {
    const ty = y(t).toFixed(1);
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${ty}" y2="${ty}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${margin.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#444">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    const tx = x(t).toFixed(1);
    out.push(`<line x1="${tx}" x2="${tx}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${tx}" y="${(margin.top + plotH + 16).toFixed(1)}" text-anchor="middle" fill="#444">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#888"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#888"/>`);
  const midY = margin.top + plotH / 2;
  out.push(
    `<text transform="translate(16 ${midY.toFixed(1)}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(spec.yLabel)}${spec.yLog ? ' (log scale)' : ''}</text>`,
  );
  out.push(
    `<text x="${(margin.left + plotW / 2).toFixed(1)}" y="${(margin.top + plotH + 36).toFixed(1)}" text-anchor="middle" fill="#333">${escapeXml(spec.xLabel)}${spec.xLog ? ' (log scale)' : ''}</text>`,
  );

  // Reference lines.
  for (const r of spec.refLines ?? []) {
    const ry = y(r.value).toFixed(1);
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${ry}" y2="${ry}" stroke="#c0392b" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${margin.left + plotW + 4}" y="${ry}" dominant-baseline="middle" font-size="11" fill="#c0392b">${escapeXml(r.label)}</text>`);
  }

  // Series.
  spec.series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (pts.length > 1) {
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.x).toFixed(1)} ${y(p.y).toFixed(1)}`).join('');
      out.push(`<path d="${d}" stroke="${color}" stroke-width="${s.dashed ? 1.5 : 2}" fill="none"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    if (s.markers === false) return;
    for (const p of pts) {
      const cx = x(p.x).toFixed(1);
      const cy = y(p.y).toFixed(1);
      if (p.lo != null && p.hi != null && Number.isFinite(p.lo) && Number.isFinite(p.hi)) {
        out.push(
          `<path d="M${cx} ${y(p.hi).toFixed(1)}V${y(p.lo).toFixed(1)}M${(x(p.x) - 4).toFixed(1)} ${y(p.hi).toFixed(1)}h8M${(x(p.x) - 4).toFixed(1)} ${y(p.lo).toFixed(1)}h8" stroke="#222" stroke-width="1" fill="none"/>`,
        );
      }
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"><title>${escapeXml(`${s.name}: x=${fmt(p.x)}, y=${fmt(p.y)}`)}</title></circle>`);
      if (spec.valueLabels) {
        out.push(`<text x="${(x(p.x) + 6).toFixed(1)}" y="${(y(p.y) - 6).toFixed(1)}" font-size="10" fill="#333">${fmt(p.y)}</text>`);
      }
    }
  });

  // Legend, bottom left.
  let lx = margin.left;
  const ly = height - 14;
  spec.series.forEach((s, si) => {
    const color = s.color ?? PALETTE[si % PALETTE.length];
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.markers !== false) out.push(`<circle cx="${lx + 9}" cy="${ly - 4}" r="3.5" fill="${color}"/>`);
    out.push(`<text x="${lx + 24}" y="${ly}" fill="#333">${escapeXml(s.name)}</text>`);
    lx += 40 + 7 * s.name.length;
  });
  if (spec.series.some((s) => s.points.some((p) => p.lo != null))) {
    out.push(`<text x="${margin.left + plotW}" y="${ly}" text-anchor="end" font-size="11" fill="#666">whiskers: p25–p75</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
