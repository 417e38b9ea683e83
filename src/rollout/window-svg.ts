import type { Network } from '../graph/network.js';
import { outputResponses, responseDelays } from './response.js';
import { computeTableau, inferenceFactor, isModelParallel } from './tableau.js';
import { findZeroDelayCycle } from './validity.js';

/** Options of {@link renderWindowSvg}. */
export interface WindowSvgOptions {
  /** Last frame drawn. */
  readonly window: number;
  /** Shown in the title, e.g. `streaming`. */
  readonly label?: string;
  /**
   * Draws a band behind frame 0's column, `<rect id="now">` with its geometry in `data-left`
   * (x of frame 0's centre), `data-col` (column width) and `data-frames` (the window), for a
   * live view to move onto the current frame.
   */
  readonly highlight?: boolean;
}

const COL = 110;
const ROW = 70;
const R = 15;
const LEFT = 130;
const TOP = 96;

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Draws the rollout window like the paper's figures: one column per frame, one row per
 * node (inputs at the bottom), each node instance labelled with its tableau value T(i,v).
 * R=0 edges stay inside a column; delayed edges cross to the column r frames later. An
 * invalid pattern is drawn with its R=0 cycle in red and `?` for the undefined tableau.
 * Returns a self-contained SVG document.
 */
export function renderWindowSvg(net: Network, delays: readonly number[], options: WindowSvgOptions): string {
  const W = options.window;
  const n = net.nodes.length;
  const cycle = findZeroDelayCycle(net, delays);
  const cycleEdges = new Set(cycle?.edges ?? []);
  const T = cycle === null ? computeTableau(net, delays, W) : null;
  const d = responseDelays(net, delays);
  const firstSteps = cycle === null ? outputResponses(net, delays, inferenceFactor(net, delays)) : null;

  const x = (frame: number): number => LEFT + frame * COL;
  const y = (node: number): number => TOP + (n - 1 - node) * ROW;
  const width = LEFT + W * COL + 80;
  const height = TOP + (n - 1) * ROW + 120;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`);
  out.push('<defs>');
  for (const [id, color] of [
    ['a0', '#1f4e9c'],
    ['a1', '#8a8f98'],
    ['ax', '#d62728'],
  ]) {
    out.push(
      `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${color}"/></marker>`,
    );
  }
  out.push('</defs>');
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);

  out.push(`<text x="16" y="26" font-size="16" font-weight="bold" fill="#222">${escapeXml(`${net.name}, rollout ${options.label ?? ''}`)}</text>`);
  const status =
    cycle === null
      ? `valid, F(R) = ${inferenceFactor(net, delays)}${isModelParallel(net, delays) ? ', fully model-parallel' : ', not fully model-parallel'}`
      : `INVALID: every edge of the cycle ${cycle.nodes.join(' -> ')} has R=0`;
  out.push(`<text x="16" y="48" font-size="14" fill="${cycle === null ? '#444' : '#d62728'}">${escapeXml(status)}</text>`);
  for (let i = 0; i <= W; i++) out.push(`<text x="${x(i)}" y="${TOP - 32}" font-size="13" text-anchor="middle" fill="#444">frame ${i}</text>`);
  for (const node of net.nodes) {
    out.push(`<text x="${LEFT - 46}" y="${y(node.index) + 4}" font-size="13" text-anchor="end" fill="#222">${escapeXml(node.name)}</text>`);
  }

  if (options.highlight === true) {
    out.push(
      `<rect id="now" x="${x(0) - COL / 2}" y="${TOP - 52}" width="${COL}" height="${(n - 1) * ROW + 80}" fill="#ffd54f" opacity="0.45" data-left="${x(0)}" data-col="${COL}" data-frames="${W}"/>`,
    );
  }
  // Edges first so that node circles sit on top of them.
  for (let j = 1; j <= W; j++) {
    for (const e of net.edges) {
      const r = delays[e.index];
      const i = j - r;
      if (i < 0) continue;
      const bad = cycleEdges.has(e.id);
      const color = bad ? '#d62728' : r === 0 ? '#1f4e9c' : '#8a8f98';
      const marker = bad ? 'ax' : r === 0 ? 'a0' : 'a1';
      const stroke = `stroke="${color}" stroke-width="${bad ? 2.6 : 1.4}" fill="none" marker-end="url(#${marker})"`;
      const x1 = x(i);
      const y1 = y(e.from);
      const x2 = x(j);
      const y2 = y(e.to);
      if (e.from === e.to && r === 0) {
        out.push(`<path d="M${x1 + R * 0.7},${y1 - R * 0.7} C${x1 + 45},${y1 - 40} ${x1 + 45},${y1 + 40} ${x1 + R * 0.7},${y1 + R * 0.7}" ${stroke}/>`);
        continue;
      }
      const dx = x2 - x1;
      const dy = y2 - y1;
      const len = Math.hypot(dx, dy);
      // Edges skipping rows inside a column, or spanning several frames, bow sideways so
      // they do not run through the node instances between their ends.
      const rowsApart = Math.abs(e.to - e.from);
      const bow = (r === 0 && rowsApart > 1) || (r > 1 && e.from === e.to) || (r >= 1 && rowsApart > 1) ? 18 + 10 * Math.max(rowsApart, r) : 0;
      const nx = -dy / len;
      const ny = dx / len;
      const cx = (x1 + x2) / 2 + nx * bow;
      const cy = (y1 + y2) / 2 + ny * bow;
      // Start and end on the circles' rims, aimed at the control point.
      const s = rim(x1, y1, bow === 0 ? x2 : cx, bow === 0 ? y2 : cy);
      const t = rim(x2, y2, bow === 0 ? x1 : cx, bow === 0 ? y1 : cy);
      out.push(bow === 0 ? `<path d="M${s[0]},${s[1]} L${t[0]},${t[1]}" ${stroke}/>` : `<path d="M${s[0]},${s[1]} Q${cx.toFixed(1)},${cy.toFixed(1)} ${t[0]},${t[1]}" ${stroke}/>`);
    }
  }

  for (let i = 0; i <= W; i++) {
    for (const node of net.nodes) {
      const known = i === 0 || node.isInput;
      const first = firstSteps?.get(node.index);
      // T grows with the frame, so the first connected frame max(1, d) holds the first response.
      const isFirst = first !== undefined && i === Math.max(1, d[node.index]);
      const fill = known ? '#e6e6e6' : '#ffffff';
      const ring = isFirst ? 'stroke="#2ca02c" stroke-width="3.5"' : 'stroke="#333" stroke-width="1.3"';
      const label = T === null ? (known ? '0' : '?') : String(T[node.index][i]);
      out.push(`<circle cx="${x(i)}" cy="${y(node.index)}" r="${R}" fill="${fill}" ${ring}><title>${escapeXml(`${node.name}, frame ${i}: T = ${label}`)}</title></circle>`);
      out.push(`<text x="${x(i)}" y="${y(node.index) + 4.5}" font-size="13" text-anchor="middle" fill="#111">${label}</text>`);
    }
  }

  const ly = TOP + (n - 1) * ROW + 62;
  out.push(`<line x1="20" y1="${ly}" x2="50" y2="${ly}" stroke="#1f4e9c" stroke-width="1.4" marker-end="url(#a0)"/><text x="58" y="${ly + 4}" font-size="12">R=0 (inside a frame)</text>`);
  out.push(`<line x1="210" y1="${ly}" x2="240" y2="${ly}" stroke="#8a8f98" stroke-width="1.4" marker-end="url(#a1)"/><text x="248" y="${ly + 4}" font-size="12">R&#8805;1 (to a later frame)</text>`);
  if (cycle !== null) {
    out.push(`<line x1="410" y1="${ly}" x2="440" y2="${ly}" stroke="#d62728" stroke-width="2.6" marker-end="url(#ax)"/><text x="448" y="${ly + 4}" font-size="12">invalid cycle</text>`);
  } else {
    out.push(`<circle cx="425" cy="${ly}" r="8" fill="white" stroke="#2ca02c" stroke-width="3"/><text x="440" y="${ly + 4}" font-size="12">first response of an output</text>`);
  }
  out.push(`<text x="20" y="${ly + 28}" font-size="12" fill="#444">Numbers: tableau T(i,v), the update step at which node v of frame i is known (grey: given).</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function rim(cx: number, cy: number, towardX: number, towardY: number): [string, string] {
  const dx = towardX - cx;
  const dy = towardY - cy;
  const len = Math.hypot(dx, dy) || 1;
  return [(cx + (dx / len) * (R + 1)).toFixed(1), (cy + (dy / len) * (R + 1)).toFixed(1)];
}
