/** One line of a chart: a name and its points. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(lo: number, hi: number, count = 5): number[] {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A self-contained SVG line chart with axes, ticks, labels and a legend. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[], options: { xMin?: number; yMin?: number; yMax?: number } = {}): string {
  const W = 560;
  const H = 320;
  const L = 64;
  const R = 150;
  const T = 36;
  const B = 48;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = options.xMin ?? Math.min(...xs, 0);
  const x1 = Math.max(...xs, 1);
  const y0 = options.yMin ?? Math.min(0, ...ys);
  const y1 = options.yMax ?? Math.max(...ys, 1e-9) * 1.1;
  const px = (x: number): number => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number): number => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/><text x="${L}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  for (const v of ticks(y0, y1)) out.push(`<line x1="${L}" x2="${W - R}" y1="${py(v)}" y2="${py(v)}" stroke="#e5e5e5"/><text x="${L - 6}" y="${py(v) + 4}" text-anchor="end">${v}</text>`);
  for (const v of ticks(x0, x1)) out.push(`<text x="${px(v)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name}: ${x}, ${y}`)}</title></circle>`);
    out.push(
      `<line x1="${W - R + 12}" x2="${W - R + 32}" y1="${T + 10 + i * 18}" y2="${T + 10 + i * 18}" stroke="${color}" stroke-width="2"/><text x="${W - R + 38}" y="${T + 14 + i * 18}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}
