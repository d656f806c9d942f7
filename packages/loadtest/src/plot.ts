// The latency-over-time plot: a self-contained SVG (or an HTML page holding it), no network. x: when
// requests were scheduled (s since the start); y: end-to-end latency from the scheduled start (ms, log
// scale): one dot per request, and per window the p50, p90 and p99 as lines and the max as ticks;
// failures as red marks on the axis; the warm-up shaded.
import type { RequestRecord } from "./request-record.js";
import type { WindowStats } from "./summary.js";

export interface PlotInput {
  readonly title: string;
  readonly records: readonly RequestRecord[];
  readonly windows: readonly WindowStats[];
  readonly windowS: number;
  readonly warmupS: number;
  readonly endS: number;
}

const W = 900;
const H = 420;
const M = { l: 64, r: 170, t: 36, b: 44 };

export function plotSvg(p: PlotInput): string {
  const done = p.records.filter((r) => r.code === "OK" && r.endMs !== undefined);
  const lat = done.map((r) => r.endMs! - r.scheduledMs);
  const lo = Math.max(0.1, lat.reduce((a, b) => Math.min(a, b), Infinity) * 0.8);
  const hi = Math.max(lo * 10, lat.reduce((a, b) => Math.max(a, b), 1) * 1.25);
  const x = (s: number) => M.l + (s / Math.max(p.endS, 1e-9)) * (W - M.l - M.r);
  const y = (ms: number) => H - M.b - ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - M.t - M.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.l}" y="20" font-size="13">${escape(p.title)}</text>`);
  if (p.warmupS > 0) out.push(`<rect x="${x(0)}" y="${M.t}" width="${x(p.warmupS) - x(0)}" height="${H - M.t - M.b}" fill="#eee"/><text x="${x(0) + 4}" y="${M.t + 12}" fill="#888">warm-up</text>`);
  // Axes and grid: decades (and 2x, 5x) on y, about ten ticks on x.
  for (let d = Math.floor(Math.log10(lo)); d <= Math.ceil(Math.log10(hi)); d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (v < lo || v > hi) continue;
      out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${fmtMs(v)}</text>`);
    }
  }
  const xStep = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => p.endS / s <= 12) ?? 1200;
  for (let s = 0; s <= p.endS + 1e-9; s += xStep) out.push(`<line x1="${x(s)}" x2="${x(s)}" y1="${H - M.b}" y2="${H - M.b + 4}" stroke="#000"/><text x="${x(s)}" y="${H - M.b + 16}" text-anchor="middle">${+s.toFixed(1)}</text>`);
  out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#000"/><line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#000"/>`);
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 8}" text-anchor="middle">scheduled start (s)</text>`);
  out.push(`<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">end-to-end latency from scheduled start</text>`);
  // One dot per request (at most 4,000, evenly thinned).
  const stride = Math.max(1, Math.ceil(done.length / 4000));
  out.push(`<g fill="#1f77b4" fill-opacity="0.35">`);
  for (let i = 0; i < done.length; i += stride) out.push(`<circle cx="${x(done[i].scheduledMs / 1000).toFixed(1)}" cy="${y(lat[i]).toFixed(1)}" r="1.8"/>`);
  out.push(`</g>`);
  const failed = p.records.filter((r) => r.code !== "OK");
  out.push(`<g stroke="#d62728">`);
  for (const r of failed.slice(0, 4000)) out.push(`<line x1="${x(r.scheduledMs / 1000).toFixed(1)}" x2="${x(r.scheduledMs / 1000).toFixed(1)}" y1="${H - M.b}" y2="${H - M.b - 8}"/>`);
  out.push(`</g>`);
  const series: [keyof WindowStats["e2e"], string, string][] = [["p50", "#2ca02c", "p50"], ["p90", "#ff7f0e", "p90"], ["p99", "#d62728", "p99"]];
  const withData = p.windows.filter((w) => w.e2e.count > 0);
  for (const [key, color] of series) {
    const pts = withData.map((w) => `${x(w.tS + p.windowS / 2).toFixed(1)},${y(w.e2e[key]).toFixed(1)}`);
    if (pts.length) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`);
  }
  for (const w of withData) out.push(`<line x1="${x(w.tS + p.windowS * 0.3).toFixed(1)}" x2="${x(w.tS + p.windowS * 0.7).toFixed(1)}" y1="${y(w.e2e.max).toFixed(1)}" y2="${y(w.e2e.max).toFixed(1)}" stroke="#000"/>`);
  const legend: [string, string][] = [...series.map(([, c, l]) => [c, `${l} per ${p.windowS} s`] as [string, string]), ["#000", "max per window"], ["#1f77b4", "one request"], ["#d62728", "failed (axis mark)"]];
  legend.forEach(([c, l], i) => out.push(`<rect x="${W - M.r + 10}" y="${M.t + i * 18}" width="12" height="3" fill="${c}"/><text x="${W - M.r + 26}" y="${M.t + i * 18 + 5}">${escape(l)}</text>`));
  out.push(`</svg>`);
  return out.join("\n");
}

/** The SVG in a self-contained HTML page, with the per-window numbers as a table beneath it. */
export function plotHtml(p: PlotInput): string {
  const rows = p.windows
    .map((w) => `<tr><td>${w.tS.toFixed(2)}</td><td>${w.requests}</td><td>${w.errors}</td>${[w.e2e.p50, w.e2e.p90, w.e2e.p99, w.e2e.max, w.ttft.p99].map((v) => `<td>${Number.isNaN(v) ? "" : v.toFixed(1)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(p.title)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>
${plotSvg(p)}
<table><tr><th>window start (s)</th><th>requests</th><th>errors</th><th>e2e p50 (ms)</th><th>e2e p90</th><th>e2e p99</th><th>e2e max</th><th>TTFT p99</th></tr>
${rows}
</table></body></html>
`;
}

function fmtMs(v: number): string {
  return v >= 1000 ? `${+(v / 1000).toFixed(2)} s` : `${+v.toFixed(1)} ms`;
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}
