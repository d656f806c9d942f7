// The latency-over-time plot: a self-contained SVG (or an HTML page holding it), no network. Two panels
// side by side on the same time axis: end-to-end latency and time to first token, both from the
// scheduled start (ms, log scale). x: when requests were scheduled (s since the start); one dot per
// request; per window the p50, p90 and p99 as lines, drawn only for windows holding enough requests for
// that percentile to mean something (MIN_REQUESTS), and the max as ticks; failures as marks on the time
// axis; the warm-up shaded. Colours are from one colour-blind-safe palette, each used once. Checked by
// eye: rendered to PNG (rsvg-convert; no headless Chromium on the build machine) and looked at.
import type { RequestRecord } from "./request-record.js";
import type { Distribution, WindowStats } from "./summary.js";

export interface PlotInput {
  readonly title: string;
  readonly records: readonly RequestRecord[];
  readonly windows: readonly WindowStats[];
  readonly windowS: number;
  readonly warmupS: number;
  readonly endS: number;
}

/** Requests a window needs before its percentile is drawn: p50 from 5, p90 from 10, p99 from 50. */
export const MIN_REQUESTS = Object.freeze({ p50: 5, p90: 10, p99: 50 });

// Okabe-Ito colours: distinct for colour-blind readers, and none used twice.
const COLOURS = { dots: "#56B4E9", p50: "#009E73", p90: "#E69F00", p99: "#CC79A7", max: "#000000", failed: "#D55E00" };

const PW = 520; // one panel
const H = 440;
const M = { l: 64, r: 16, t: 52, b: 44 };
const LEGEND = 230;
const W = 2 * PW + LEGEND;

interface Panel {
  readonly label: string;
  /** The value of one request, ms (undefined: not plotted). */
  readonly value: (r: RequestRecord) => number | undefined;
  readonly stats: (w: WindowStats) => Distribution;
}

const PANELS: Panel[] = [
  {
    label: "end-to-end latency",
    value: (r) => (r.code === "OK" && r.endMs !== undefined ? r.endMs - r.scheduledMs : undefined),
    stats: (w) => w.e2e,
  },
  {
    label: "time to first token",
    value: (r) => (r.firstTokenMs !== undefined ? r.firstTokenMs - r.scheduledMs : undefined),
    stats: (w) => w.ttft,
  },
];

export function plotSvg(p: PlotInput): string {
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.l}" y="20" font-size="13">${escapeXml(p.title)}</text>`);
  PANELS.forEach((panel, i) => {
    out.push(...drawPanel(p, panel, i * PW));
  });
  const series = (["p50", "p90", "p99"] as const).map(
    (k) => [COLOURS[k], `${k} per ${p.windowS} s window (≥ ${MIN_REQUESTS[k]} requests)`, k === "p90" ? "6 3" : ""] as const,
  );
  const legend: (readonly [string, string, string])[] = [
    ...series,
    [COLOURS.max, "max per window", ""],
    [COLOURS.dots, "one request", ""],
    [COLOURS.failed, "failed (mark on the time axis)", ""],
  ];
  const lx = 2 * PW + 8;
  legend.forEach(([c, l, dash], i) => {
    const ly = M.t + i * 34;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="3"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
    );
    out.push(...wrap(l, 28).map((t, j) => `<text x="${lx + 24}" y="${ly + 4 + j * 13}">${escapeXml(t)}</text>`));
  });
  out.push(`</svg>`);
  return out.join("\n");
}

function drawPanel(p: PlotInput, panel: Panel, ox: number): string[] {
  const out: string[] = [];
  const points = p.records.flatMap((r) => {
    const v = panel.value(r);
    return v === undefined ? [] : [{ t: r.scheduledMs / 1000, v }];
  });
  const values = points.map((q) => q.v);
  const lo = Math.max(0.1, values.reduce((a, b) => Math.min(a, b), Infinity) * 0.8);
  const hi = Math.max(lo * 10, values.reduce((a, b) => Math.max(a, b), 1) * 1.25);
  const left = ox + M.l;
  const right = ox + PW - M.r;
  const x = (s: number) => left + (s / Math.max(p.endS, 1e-9)) * (right - left);
  const y = (ms: number) =>
    H - M.b - ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - M.t - M.b);
  out.push(`<text x="${left}" y="${M.t - 10}" font-size="12" font-weight="bold">${escapeXml(panel.label)}</text>`);
  if (p.warmupS > 0)
    out.push(
      `<rect x="${x(0)}" y="${M.t}" width="${x(p.warmupS) - x(0)}" height="${H - M.t - M.b}" fill="#eee"/><text x="${x(0) + 4}" y="${M.t + 12}" fill="#888">warm-up</text>`,
    );
  for (let d = Math.floor(Math.log10(lo)); d <= Math.ceil(Math.log10(hi)); d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (v < lo || v > hi) continue;
      out.push(
        `<line x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${fmtMs(v)}</text>`,
      );
    }
  }
  const xStep = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => p.endS / s <= 8) ?? 1200;
  for (let s = 0; s <= p.endS + 1e-9; s += xStep) {
    out.push(
      `<line x1="${x(s)}" x2="${x(s)}" y1="${H - M.b}" y2="${H - M.b + 4}" stroke="#000"/><text x="${x(s)}" y="${H - M.b + 16}" text-anchor="middle">${+s.toFixed(1)}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${right}" y1="${H - M.b}" y2="${H - M.b}" stroke="#000"/><line x1="${left}" x2="${left}" y1="${M.t}" y2="${H - M.b}" stroke="#000"/>`,
  );
  out.push(`<text x="${(left + right) / 2}" y="${H - 8}" text-anchor="middle">scheduled start (s)</text>`);
  out.push(
    `<text transform="translate(${ox + 14} ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.label)} from scheduled start</text>`,
  );
  const stride = Math.max(1, Math.ceil(points.length / 4000)); // at most 4,000 dots, evenly thinned
  out.push(`<g fill="${COLOURS.dots}" fill-opacity="0.45">`);
  for (let i = 0; i < points.length; i += stride)
    out.push(`<circle cx="${x(points[i].t).toFixed(1)}" cy="${y(points[i].v).toFixed(1)}" r="1.8"/>`);
  out.push(`</g>`);
  out.push(`<g stroke="${COLOURS.failed}" stroke-width="1.5">`);
  for (const r of p.records.filter((q) => q.code !== "OK").slice(0, 4000)) {
    const fx = x(r.scheduledMs / 1000).toFixed(1);
    out.push(`<line x1="${fx}" x2="${fx}" y1="${H - M.b}" y2="${H - M.b - 10}"/>`);
  }
  out.push(`</g>`);
  for (const key of ["p50", "p90", "p99"] as const) {
    // A line per run of consecutive windows with enough requests: no line through thin windows.
    let run: string[] = [];
    const flush = () => {
      if (run.length === 1) out.push(`<circle cx="${run[0].split(",")[0]}" cy="${run[0].split(",")[1]}" r="2.5" fill="${COLOURS[key]}"/>`);
      else if (run.length > 1)
        out.push(
          `<polyline fill="none" stroke="${COLOURS[key]}" stroke-width="2"${key === "p90" ? ' stroke-dasharray="6 3"' : ""} points="${run.join(" ")}"/>`,
        );
      run = [];
    };
    for (const w of p.windows) {
      const d = panel.stats(w);
      if (d.count >= MIN_REQUESTS[key]) run.push(`${x(w.tS + p.windowS / 2).toFixed(1)},${y(d[key]).toFixed(1)}`);
      else flush();
    }
    flush();
  }
  for (const w of p.windows) {
    const d = panel.stats(w);
    if (d.count > 0)
      out.push(
        `<line x1="${x(w.tS + p.windowS * 0.3).toFixed(1)}" x2="${x(w.tS + p.windowS * 0.7).toFixed(1)}" y1="${y(d.max).toFixed(1)}" y2="${y(d.max).toFixed(1)}" stroke="${COLOURS.max}"/>`,
      );
  }
  return out;
}

/** The SVG in a self-contained HTML page, with the per-window numbers as a table beneath it. */
export function plotHtml(p: PlotInput): string {
  const cell = (d: Distribution, key: "p50" | "p90" | "p99") =>
    d.count >= MIN_REQUESTS[key] && !Number.isNaN(d[key]) ? d[key].toFixed(1) : "";
  const rows = p.windows
    .map(
      (w) =>
        `<tr><td>${w.tS.toFixed(2)}</td><td>${w.requests}</td><td>${w.errors}</td><td>${cell(w.e2e, "p50")}</td><td>${cell(w.e2e, "p90")}</td><td>${cell(w.e2e, "p99")}</td><td>${w.e2e.count ? w.e2e.max.toFixed(1) : ""}</td><td>${cell(w.ttft, "p50")}</td><td>${cell(w.ttft, "p99")}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeXml(p.title)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head><body>
${plotSvg(p)}
<p>Percentiles are left out of windows with fewer requests than they need (p50: ${MIN_REQUESTS.p50}, p90: ${MIN_REQUESTS.p90}, p99: ${MIN_REQUESTS.p99}).</p>
<table><tr><th>window start (s)</th><th>requests</th><th>errors</th><th>e2e p50 (ms)</th><th>e2e p90</th><th>e2e p99</th><th>e2e max</th><th>TTFT p50</th><th>TTFT p99</th></tr>
${rows}
</table></body></html>
`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

function fmtMs(v: number): string {
  return v >= 1000 ? `${+(v / 1000).toFixed(2)} s` : `${+v.toFixed(1)} ms`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}
