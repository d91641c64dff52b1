// The SVG plot: aggregate throughput over time (MiB/s, from 250 ms byte-count samples,
// smoothed over one second) with every update marked (green applied, red refused).
export function renderSvg(samples: { t: number; bytes: number }[], updates: { t: number; label: string; ok: boolean }[]): string {
  const W = 900;
  const H = 320;
  const L = 60;
  const B = 40;
  const rates: { t: number; r: number }[] = [];
  for (let i = 4; i < samples.length; i++) {
    const a = samples[i - 4]!;
    const b = samples[i]!;
    rates.push({ t: b.t, r: (b.bytes - a.bytes) / (b.t - a.t) / 1048576 });
  }
  const tMax = Math.max(1, samples.at(-1)?.t ?? 1);
  const rMax = Math.max(0.1, ...rates.map((x) => x.r)) * 1.1;
  const x = (t: number) => L + (t / tMax) * (W - L - 20);
  const y = (r: number) => H - B - (r / rMax) * (H - B - 20);
  const line = rates.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.r).toFixed(1)}`).join(' ');
  const marks = updates
    .map((u) => `<line x1="${x(u.t).toFixed(1)}" x2="${x(u.t).toFixed(1)}" y1="20" y2="${H - B}" stroke="${u.ok ? '#2a2' : '#d22'}" stroke-opacity="0.5"><title>${u.label}</title></line>`)
    .join('\n');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${L - 6}" y="${y(f * rMax) + 4}" text-anchor="end">${(f * rMax).toFixed(1)}</text>`).join('');
  const tticks = Array.from({ length: 7 }, (_, i) => (i * tMax) / 6).map((t) => `<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${t.toFixed(0)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="${L}" y="14">Throughput through the onion network (MiB/s); vertical lines: updates (green applied, red refused and rolled back)</text>
${marks}
<path d="${line}" fill="none" stroke="#225" stroke-width="1.5"/>
<line x1="${L}" x2="${L}" y1="20" y2="${H - B}" stroke="black"/><line x1="${L}" x2="${W - 20}" y1="${H - B}" y2="${H - B}" stroke="black"/>
${ticks}${tticks}<text x="${(W + L) / 2}" y="${H - 6}" text-anchor="middle">seconds</text>
</svg>
`;
}
