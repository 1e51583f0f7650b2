import { ninesOf } from './histogram.js';
import type { Ratio, Report, ScenarioResult } from './report.js';

/**
 * The report as one self-contained HTML page: inline CSS and SVG, no scripts, nothing fetched.
 * Charts: latency by percentile on a "nines" axis (as HdrHistogram plots do), throughput bars,
 * the concurrency sweep (latency against throughput), and the baseline ratios.
 */

const COLORS = {
  warm: '#2563eb',
  cold: '#ea580c',
  warmGhz: '#7dd3fc',
  coldGhz: '#facc15',
  direct: '#16a34a',
  connect: '#dc2626',
  zipf: '#9333ea',
  feastGrpc: '#0d9488',
  feastHttp: '#db2777',
  other: '#64748b',
};

function colorOf(
  s: Pick<ScenarioResult, 'system' | 'group' | 'cache' | 'key_distribution' | 'name' | 'generator'>,
): string {
  if (s.system === 'direct-driver') return COLORS.direct;
  if (s.system === 'connect-per-request') return COLORS.connect;
  if (s.system === 'feast-grpc') return COLORS.feastGrpc;
  if (s.system === 'feast-http') return COLORS.feastHttp;
  if (s.key_distribution.startsWith('zipf')) return COLORS.zipf;
  const ghz = s.generator === 'ghz';
  if (s.name.includes(' warm ')) return ghz ? COLORS.warmGhz : COLORS.warm;
  if (s.name.includes(' cold ')) return ghz ? COLORS.coldGhz : COLORS.cold;
  return COLORS.other;
}

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function fmtMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '–';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function fmtNum(n: number | null | undefined, digits = 0): string {
  if (n == null || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const fmtPct = (n: number | null | undefined, digits = 0): string => (n == null ? '–' : `${fmtNum(n, digits)} %`);

// ---------------------------------------------------------------- scales and axes

export interface Scale {
  (value: number): number;
  ticks: Array<{ value: number; label: string }>;
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(min)); exp <= Math.ceil(Math.log10(max)); exp++) {
    for (const m of [1, 2, 5]) {
      const v = m * Math.pow(10, exp);
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function fmtTick(v: number): string {
  if (v >= 1000) return `${fmtNum(v / 1000, v % 1000 === 0 ? 0 : 1)}k`;
  if (v >= 1) return String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

/** Log scale over [min, max] widened to whole 1-2-5 steps, mapped onto [from, to] pixels. */
export function logScale(min: number, max: number, from: number, to: number): Scale {
  const lo = Math.max(min, 1e-3);
  const hi = Math.max(max, lo * 2);
  const step = (v: number, up: boolean): number => {
    const exp = Math.floor(Math.log10(v));
    const steps = [1, 2, 5, 10].map((m) => m * Math.pow(10, exp));
    return up ? steps.find((s) => s >= v * 0.999)! : [...steps].reverse().find((s) => s <= v * 1.001)!;
  };
  const a = Math.log10(step(lo, false));
  const b = Math.log10(step(hi, true));
  const scale = ((v: number) => from + ((Math.log10(Math.max(v, 1e-6)) - a) / (b - a)) * (to - from)) as Scale;
  let ticks = logTicks(Math.pow(10, a), Math.pow(10, b));
  if (ticks.length > 9) ticks = ticks.filter((t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9);
  scale.ticks = ticks.map((value) => ({ value, label: fmtTick(value) }));
  return scale;
}

function niceStep(range: number, target: number): number {
  const raw = range / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

export function linearScale(min: number, max: number, from: number, to: number, tickCount = 5): Scale {
  const step = niceStep(Math.max(max - min, 1e-9), tickCount);
  const lo = Math.floor(min / step) * step;
  const hi = Math.max(Math.ceil(max / step) * step, lo + step);
  const scale = ((v: number) => from + ((v - lo) / (hi - lo)) * (to - from)) as Scale;
  scale.ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) scale.ticks.push({ value: v, label: fmtTick(v) });
  return scale;
}

function ninesLabel(n: number): string {
  if (n === 0) return '0%';
  const p = 100 * (1 - Math.pow(10, -n));
  return `${Number(p.toFixed(Math.max(0, n - 2)))}%`;
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const FRAME: Frame = { width: 470, height: 300, left: 56, right: 26, top: 16, bottom: 44 };

export function axes(frame: Frame, x: Scale, y: Scale, xTitle: string, yTitle: string): string {
  const parts: string[] = [];
  const x0 = frame.left;
  const x1 = frame.width - frame.right;
  const y0 = frame.height - frame.bottom;
  const y1 = frame.top;
  for (const t of y.ticks) {
    const py = y(t.value);
    parts.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${x0 - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end">${t.label}</text>`);
  }
  for (const t of x.ticks) {
    const px = x(t.value);
    parts.push(`<line class="grid" x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${y1}" y2="${y0}"/>`);
    parts.push(`<text class="tick" x="${px.toFixed(1)}" y="${y0 + 16}" text-anchor="middle">${t.label}</text>`);
  }
  parts.push(`<rect class="plot" x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}"/>`);
  parts.push(
    `<text class="axis" x="${(x0 + x1) / 2}" y="${frame.height - 6}" text-anchor="middle">${escapeHtml(xTitle)}</text>`,
  );
  parts.push(
    `<text class="axis" transform="translate(14 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yTitle)}</text>`,
  );
  return parts.join('');
}

export function svg(frame: Frame, body: string, label: string): string {
  return `<svg viewBox="0 0 ${frame.width} ${frame.height}" role="img" aria-label="${escapeHtml(label)}">${body}</svg>`;
}

export function polyline(points: Array<[number, number]>, color: string, dashed = false): string {
  const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5 4"' : ''}/>`;
}

interface Series {
  label: string;
  color: string;
  scenario: ScenarioResult;
}

export function legend(items: Array<{ label: string; color: string; note?: string }>): string {
  return `<div class="legend">${items
    .map(
      (i) =>
        `<span><i style="background:${i.color}"></i>${escapeHtml(i.label)}${i.note ? ` <em>${escapeHtml(i.note)}</em>` : ''}</span>`,
    )
    .join('')}</div>`;
}

/** Latency against percentile, percentile on a log "nines" axis, latency on a log axis. */
function percentileChart(title: string, series: Series[], subtitle = ''): string {
  const usable = series.filter((s) => s.scenario.percentile_curve.length > 0);
  if (usable.length === 0) return '';
  const curves = usable.map((s) => {
    const deepest = Math.log10(Math.max(s.scenario.requests, 1));
    return s.scenario.percentile_curve.map(([p, ms]) => [p >= 100 ? deepest : ninesOf(p), ms] as [number, number]);
  });
  const maxNines = Math.max(1, Math.ceil(Math.max(...curves.flat().map(([n]) => n)) - 1e-9));
  const values = curves.flat().map(([, ms]) => ms);
  const frame = FRAME;
  const x = ((n: number) => frame.left + (n / maxNines) * (frame.width - frame.left - frame.right)) as Scale;
  x.ticks = Array.from({ length: maxNines + 1 }, (_, n) => ({ value: n, label: ninesLabel(n) }));
  const y = logScale(Math.min(...values), Math.max(...values), frame.height - frame.bottom, frame.top);
  let body = axes(frame, x, y, 'percentile', 'latency (ms)');
  // Mark p50 and p99 for orientation.
  for (const [p, label] of [
    [50, 'p50'],
    [99, 'p99'],
  ] as const) {
    const px = x(ninesOf(p));
    body += `<line class="marker" x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${frame.top}" y2="${frame.height - frame.bottom}"/>`;
    body += `<text class="marker-label" x="${(px + 3).toFixed(1)}" y="${frame.top + 11}">${label}</text>`;
  }
  usable.forEach((s, i) => {
    body += polyline(
      curves[i]!.map(([n, ms]) => [x(n), y(ms)]),
      s.color,
    );
  });
  return `<figure class="chart"><figcaption>${escapeHtml(title)}${subtitle ? `<small>${escapeHtml(subtitle)}</small>` : ''}</figcaption>${svg(
    frame,
    body,
    title,
  )}${legend(
    usable.map((s) => ({
      label: s.label,
      color: s.color,
      note: `p50 ${fmtMs(s.scenario.p50_ms)} · p99 ${fmtMs(s.scenario.p99_ms)} · max ${fmtMs(s.scenario.max_ms)} ms @ ${fmtNum(s.scenario.achieved_rps)}/s`,
    })),
  )}</figure>`;
}

/** Horizontal bars: the probed maximum (pale) and the open-loop achieved rate (solid) per scenario. */
function throughputChart(scenarios: ScenarioResult[], rateFraction: number): string {
  const rows = scenarios.filter(
    (s) =>
      s.group === 'matrix' ||
      s.group === 'variant' ||
      s.group === 'zipf' ||
      s.group === 'feast' ||
      s.system === 'direct-driver',
  );
  const measured = rows.filter((s) => s.group !== 'sweep');
  if (measured.length === 0) return '';
  const rowHeight = 22;
  const frame: Frame = {
    width: 960,
    height: 40 + measured.length * rowHeight + 36,
    left: 210,
    right: 80,
    top: 20,
    bottom: 36,
  };
  const maxValue = Math.max(...measured.map((s) => Math.max(s.max_rps ?? 0, s.achieved_rps)), 1);
  const x = logScale(
    Math.max(1, Math.min(...measured.map((s) => Math.max(1, s.achieved_rps))) / 2),
    maxValue,
    frame.left,
    frame.width - frame.right,
  );
  const y = linearScale(0, measured.length, frame.top, frame.height - frame.bottom);
  y.ticks = [];
  let body = axes(frame, x, y, 'requests per second (log scale)', '');
  measured.forEach((s, i) => {
    const top = frame.top + 6 + i * rowHeight;
    const color = colorOf(s);
    const base = x.ticks[0]?.value ?? 1;
    const x0 = x(base);
    if (s.max_rps != null) {
      body += `<rect x="${x0}" y="${top}" width="${Math.max(1, x(s.max_rps) - x0).toFixed(1)}" height="${rowHeight - 6}" fill="${color}" opacity="0.25"/>`;
    }
    body += `<rect x="${x0}" y="${top + 4}" width="${Math.max(1, x(s.achieved_rps) - x0).toFixed(1)}" height="${rowHeight - 14}" fill="${color}"/>`;
    body += `<text class="tick" x="${frame.left - 8}" y="${top + 12}" text-anchor="end">${escapeHtml(s.name)}</text>`;
    body += `<text class="tick" x="${(x(Math.max(s.max_rps ?? 0, s.achieved_rps)) + 6).toFixed(1)}" y="${top + 12}">${fmtNum(s.max_rps ?? s.achieved_rps)}</text>`;
  });
  return `<figure class="chart wide"><figcaption>Throughput<small>pale: closed-loop maximum (probe) · solid: open-loop rate achieved (the target: ${fmtNum(rateFraction * 100)} % of the maximum; baselines at the cache-off scenario's rate)</small></figcaption>${svg(frame, body, 'throughput')}</figure>`;
}

/** Concurrency sweep: latency (p50 dashed, p99 solid) against achieved throughput, one curve per series. */
function sweepChart(scenarios: ScenarioResult[]): string {
  const sweep = scenarios.filter((s) => s.group === 'sweep' && s.series);
  if (sweep.length === 0) return '';
  const seriesNames = [...new Set(sweep.map((s) => s.series!))];
  const frame: Frame = { ...FRAME, width: 620, height: 360 };
  const x = linearScale(0, Math.max(...sweep.map((s) => s.achieved_rps)), frame.left, frame.width - frame.right, 6);
  const y = logScale(
    Math.min(...sweep.map((s) => s.p50_ms)),
    Math.max(...sweep.map((s) => s.p99_ms)),
    frame.height - frame.bottom,
    frame.top,
  );
  let body = axes(frame, x, y, 'throughput (requests/s)', 'latency (ms)');
  const items: Array<{ label: string; color: string }> = [];
  for (const name of seriesNames) {
    const points = sweep.filter((s) => s.series === name).sort((a, b) => (a.concurrency ?? 0) - (b.concurrency ?? 0));
    const color = colorOf(points[0]!);
    body += polyline(
      points.map((s) => [x(s.achieved_rps), y(s.p50_ms)]),
      color,
      true,
    );
    body += polyline(
      points.map((s) => [x(s.achieved_rps), y(s.p99_ms)]),
      color,
    );
    for (const s of points) {
      const px = x(s.achieved_rps);
      const py = y(s.p99_ms);
      body += `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3.5" fill="${color}"/>`;
      body += `<text class="point" x="${(px + 5).toFixed(1)}" y="${(py - 5).toFixed(1)}">${s.concurrency}</text>`;
    }
    items.push({ label: name, color });
  }
  return `<figure class="chart sweep"><figcaption>Concurrency sweep (closed loop, b10 f10)<small>solid: p99 · dashed: p50 · labels: requests in flight</small></figcaption>${svg(
    frame,
    body,
    'concurrency sweep',
  )}${legend(items)}</figure>`;
}

function ratioClass(value: number | null, higherIsBetter: boolean): string {
  if (value == null) return '';
  const good = higherIsBetter ? value >= 1 : value <= 1;
  const strong = higherIsBetter ? value >= 2 || value <= 0.5 : value <= 0.5 || value >= 2;
  return `${good ? 'good' : 'bad'}${strong ? ' strong' : ''}`;
}

function ratiosTable(ratios: Ratio[]): string {
  if (ratios.length === 0) return '<p>No baseline ran in this report.</p>';
  const cell = (v: number | null, higher: boolean) =>
    `<td class="num ${ratioClass(v, higher)}">${v == null ? '–' : `${fmtNum(v, 2)}×`}</td>`;
  return `<table class="ratios"><thead><tr><th>Cassette scenario</th><th>baseline</th><th>p50 ratio</th><th>p99 ratio</th><th>throughput ratio</th><th>server CPU / request ratio</th></tr></thead><tbody>${ratios
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.scenario)}</td><td>${escapeHtml(r.baseline)}</td>${cell(r.p50_ratio, false)}${cell(r.p99_ratio, false)}${cell(r.throughput_ratio, true)}${cell(r.server_cpu_per_request_ratio, false)}</tr>`,
    )
    .join('')}</tbody></table>`;
}

function resultsTable(scenarios: ScenarioResult[]): string {
  const head = [
    'scenario',
    'generator',
    'mode',
    'target/s',
    'achieved/s',
    'max/s',
    'p50',
    'p90',
    'p99',
    'p99.9',
    'max',
    'errors',
    'cache hits',
    'server CPU',
    'server CPU/req',
    'server CPU at max',
    'CPU/req at max',
    'Cassandra CPU',
    'generator CPU',
    'machine CPU',
    'send lag p99',
    'gen GC max',
  ];
  const rows = scenarios.map((s) => {
    const mode = s.mode === 'open' ? 'open' : `closed c${s.concurrency}`;
    return `<tr><td><i class="dot" style="background:${colorOf(s)}"></i>${escapeHtml(s.name)}</td><td>${s.generator}</td><td>${mode}</td><td class="num">${fmtNum(s.target_rps)}</td><td class="num">${fmtNum(s.achieved_rps)}</td><td class="num">${fmtNum(s.max_rps)}</td><td class="num">${fmtMs(s.p50_ms)}</td><td class="num">${fmtMs(s.p90_ms)}</td><td class="num strong">${fmtMs(s.p99_ms)}</td><td class="num">${fmtMs(s.p999_ms)}</td><td class="num">${fmtMs(s.max_ms)}</td><td class="num${s.errors > 0 ? ' bad' : ''}">${fmtNum(s.errors)}</td><td class="num">${s.cache_hit_ratio == null ? '–' : fmtPct(s.cache_hit_ratio * 100, 1)}</td><td class="num">${fmtPct(s.server_cpu_percent)}</td><td class="num">${fmtUs(s.server_cpu_us_per_request)}</td><td class="num">${fmtPct(s.max_server_cpu_percent)}</td><td class="num">${fmtUs(s.max_server_cpu_us_per_request)}</td><td class="num">${fmtPct(s.cassandra_cpu_percent)}</td><td class="num">${fmtPct(s.generator_cpu_percent)}</td><td class="num">${fmtPct(s.machine_cpu_percent)}</td><td class="num">${fmtMs(s.send_lag_p99_ms)}</td><td class="num">${fmtMs(s.generator_gc_max_ms)}</td></tr>`;
  });
  return `<table class="results"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const fmtUs = (us: number | null | undefined): string => (us == null ? '–' : `${fmtNum(us)} µs`);

/**
 * Cassette's matrix scenarios side by side by generator: maximum throughput, the server's CPU
 * there and per request, and throughput against the direct driver (issue 16's ghz targets).
 */
function generatorsSection(report: Report): string {
  const rows = report.scenarios.filter((s) => s.group === 'matrix' && s.system === 'cassette');
  if (!rows.some((s) => s.generator === 'ghz')) return '';
  const againstDriver = new Map(
    report.ratios.filter((r) => r.baseline.startsWith('direct-driver ')).map((r) => [r.scenario, r.throughput_ratio]),
  );
  const body = rows
    .map(
      (s) =>
        `<tr><td><i class="dot" style="background:${colorOf(s)}"></i>${escapeHtml(s.name)}</td><td>${s.generator}</td>` +
        `<td class="num">${fmtNum(s.max_rps)}</td><td class="num">${fmtPct(s.max_server_cpu_percent)}</td>` +
        `<td class="num">${fmtUs(s.max_server_cpu_us_per_request)}</td><td class="num">${fmtNum(s.achieved_rps)}</td>` +
        `<td class="num">${fmtUs(s.server_cpu_us_per_request)}</td><td class="num">${fmtPct(s.generator_cpu_percent)}</td>` +
        `<td class="num">${fmtNum(againstDriver.get(s.name), 2)}</td></tr>`,
    )
    .join('');
  return `<h2>Load generators</h2>
<p class="notes">The same scenarios driven by the harness's grpc-js generator (loadgen) and by ghz${report.ghz ? ` ${escapeHtml(report.ghz.version)} (${report.ghz.concurrency} callers at maximum)` : ''}. A generator that saturates first shows a lower maximum with the server's CPU below its ceiling. “÷ direct driver” is maximum throughput against the in-process driver's (which always runs in loadgen). CPU per request: the server's CPU time over requests answered.</p>
<table><tr><th>scenario</th><th>generator</th><th>max/s</th><th>server CPU at max</th><th>CPU/req at max</th><th>open-loop/s</th><th>CPU/req open loop</th><th>generator CPU, open loop</th><th>max ÷ direct driver</th></tr>${body}</table>`;
}

function headline(report: Report): string {
  const find = (name: string) => report.scenarios.find((s) => s.name === name);
  const cards: string[] = [];
  const add = (s: ScenarioResult | undefined, title: string) => {
    if (!s) return;
    cards.push(
      `<div class="card" style="border-top-color:${colorOf(s)}"><div class="card-title">${escapeHtml(title)}</div><div class="big">${fmtMs(s.p99_ms)}<span> ms p99</span></div><div class="card-note">p50 ${fmtMs(s.p50_ms)} ms · ${fmtNum(s.achieved_rps)} req/s${s.cache_hit_ratio != null ? ` · ${fmtPct(s.cache_hit_ratio * 100, 1)} hits` : ''}</div></div>`,
    );
  };
  add(find('cassette warm b1 f10'), 'warm cache · 1 entity × 10 features');
  add(find('cassette cold b1 f10'), 'cache off · 1 entity × 10 features');
  add(find('cassette warm b100 f50'), 'warm cache · 100 entities × 50 features');
  add(find('cassette cold b100 f50'), 'cache off · 100 entities × 50 features');
  add(find('cassette zipf b10 f10'), 'Zipf keys, cache on · 10 × 10');
  return cards.length ? `<div class="cards">${cards.join('')}</div>` : '';
}

export const CSS = `
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1440px;margin:0 auto;padding:28px 32px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:36px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);margin:0 0 18px}.meta b{color:var(--ink);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:14px;margin:18px 0}
.card{background:#fff;border:1px solid var(--line);border-top:4px solid;border-radius:8px;padding:12px 14px}
.card-title{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.big{font-size:30px;font-weight:700;margin:4px 0}.big span{font-size:14px;font-weight:500;color:var(--muted)}
.card-note{color:var(--muted);font-size:13px}
.grid3{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
.chart{background:#fff;border:1px solid var(--line);border-radius:8px;margin:0;padding:10px 12px}
.chart.wide{grid-column:1/-1;max-width:1100px}.chart.sweep{max-width:760px}
figcaption{font-weight:600;margin-bottom:4px}figcaption small{display:block;font-weight:400;color:var(--muted);font-size:12px}
svg{width:100%;height:auto;display:block}
.grid{stroke:#eef2f7}.plot{fill:none;stroke:#cbd5e1}.tick{font-size:11px;fill:#475569}.axis{font-size:12px;fill:#334155}
.marker{stroke:#94a3b8;stroke-dasharray:2 3}.marker-label{font-size:10px;fill:#64748b}.point{font-size:10px;fill:#334155}
.legend{display:flex;flex-direction:column;gap:2px;font-size:12px;margin-top:4px}.legend span{line-height:1.35}
.legend i,.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}.legend em{color:var(--muted);font-style:normal}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line);font-size:13px}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}th{background:#f1f5f9;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.strong{font-weight:600}
td.good{background:#dcfce7}td.good.strong{background:#86efac}td.bad{background:#fee2e2}td.bad.strong{background:#fca5a5}
.scroll{overflow-x:auto}.notes{color:#334155;max-width:980px}.notes li{margin:4px 0}
`;

/** The Python-caller scenario: today's RPC and the Arrow RPC, each with its conversion to NumPy. */
function pythonCallerSection(report: Report): string {
  const py = report.python_caller;
  if (!py) return '';
  const row = (label: string, v: NonNullable<Report['python_caller']>['proto']) =>
    `<tr><td>${label}</td><td class="num">${fmtNum(v.p50_ms, 2)}</td><td class="num">${fmtNum(v.mean_ms, 2)}</td>` +
    `<td class="num">${fmtNum(v.convert_p50_ms, 2)}</td><td class="num">${fmtNum(v.response_bytes)}</td></tr>`;
  const versions = Object.entries(py.versions)
    .map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(v)}`)
    .join(', ');
  return `<h2>Python caller (${escapeHtml(py.name)})</h2>
<p class="notes">A Python grpcio caller on the warm server, ${py.requests} requests of ${py.batch} entities × ${py.features} features each way, alternating: the time from the call to NumPy arrays in hand (the embedding as a 2-D float32 array). Arrow ÷ proto: time <b>${fmtNum(py.time_ratio, 2)}×</b>, response bytes <b>${fmtNum(py.bytes_ratio, 2)}×</b>; with <code>row_event_times</code> (one event time per entity row), time <b>${fmtNum(py.row_event_times_time_ratio, 2)}×</b>, bytes <b>${fmtNum(py.row_event_times_bytes_ratio, 2)}×</b>. ${versions}; load average ${py.load_average.join(' / ')}.</p>
<table><tr><th>RPC</th><th>p50 ms</th><th>mean ms</th><th>conversion p50 ms</th><th>response bytes</th></tr>
${row('GetOnlineFeatures + NumPy', py.proto)}
${row('GetOnlineFeaturesArrow + NumPy', py.arrow)}
${row('GetOnlineFeaturesArrow, row_event_times, + NumPy', py.arrow_row_event_times)}
</table>`;
}

export function renderHtml(report: Report): string {
  const byName = new Map(report.scenarios.map((s) => [s.name, s]));
  const cellCharts: string[] = [];
  const cells = [
    ...new Set(report.scenarios.filter((s) => s.group === 'matrix').map((s) => `b${s.batch_size} f${s.features}`)),
  ];
  for (const cell of cells) {
    const series: Series[] = [];
    const push = (name: string, label: string) => {
      const s = byName.get(name);
      if (s) series.push({ label, color: colorOf(s), scenario: s });
    };
    push(`cassette warm ${cell}`, 'Cassette, warm cache');
    push(`cassette cold ${cell}`, 'Cassette, cache off');
    push(`cassette warm ${cell} (ghz)`, 'Cassette, warm cache (ghz)');
    push(`cassette cold ${cell} (ghz)`, 'Cassette, cache off (ghz)');
    push(`direct-driver ${cell}`, 'direct driver (floor)');
    push(`feast-grpc warm ${cell}`, "Feast's gRPC API, warm cache");
    push(`feast-grpc cold ${cell}`, "Feast's gRPC API, cache off");
    push(`feast-http warm ${cell}`, "Feast's HTTP API, warm cache");
    push(`feast-http cold ${cell}`, "Feast's HTTP API, cache off");
    const [b, f] = cell.split(' ');
    cellCharts.push(
      percentileChart(
        `${b!.slice(1)} entit${b === 'b1' ? 'y' : 'ies'} × ${f!.slice(1)} features`,
        series,
        'open loop; each curve at its own target rate',
      ),
    );
  }
  const others: Series[] = [];
  for (const s of report.scenarios) {
    if (s.group === 'zipf') others.push({ label: s.name, color: colorOf(s), scenario: s });
  }
  for (const name of ['cassette warm b10 f10', 'cassette cold b10 f10']) {
    const s = byName.get(name);
    if (s && others.length > 0) others.push({ label: name, color: colorOf(s), scenario: s });
  }
  const connect: Series[] = [];
  for (const name of ['connect-per-request b1 f10', 'cassette cold b1 f10', 'direct-driver b1 f10']) {
    const s = byName.get(name);
    if (s) connect.push({ label: name, color: colorOf(s), scenario: s });
  }
  if (!connect.some((s) => s.scenario.system === 'connect-per-request')) connect.length = 0;

  const hotSet = report.scenarios.find((s) => s.key_distribution.startsWith('hot'))?.key_distribution ?? 'hot keys';
  const m = report.machine;
  const meta = [
    `<b>${escapeHtml(report.date)}</b>`,
    `commit <b>${escapeHtml(report.git_commit.slice(0, 10))}${report.git_dirty ? ' (dirty)' : ''}</b>`,
    `${m.cores} cores (${escapeHtml(m.cpu_model)}), ${fmtNum(m.memory_gb, 0)} GB, Node ${escapeHtml(m.node)}`,
    `dataset <b>${fmtNum(report.entities)}</b> entities × 50 features + 32-float embedding, seed ${report.seed}`,
    `${report.arrival} arrivals at ${fmtNum(report.rate_fraction * 100)} % of the probed maximum`,
    `probe ${report.durations.probe_s} s · warm-up ${report.durations.warmup_s} s · measure ${report.durations.measure_s} s · sweep ${report.durations.sweep_s} s per level`,
    report.target ? `target <b>${escapeHtml(report.target)}</b>` : `${report.servers.length} server processes`,
    `wall time ${fmtNum(report.wall_seconds)} s${report.quick ? ' (--quick)' : ''}`,
    `load average ${report.load_average.at_start.join(' / ')} at the start, ${report.load_average.at_end.join(' / ')} at the end`,
  ].join(' · ');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Cassette latency report · ${escapeHtml(report.date)}</title><style>${CSS}</style></head>
<body><main>
<h1>Cassette latency report</h1>
<p class="meta">${meta}</p>
${headline(report)}
<h2>Latency by percentile</h2>
<div class="grid3">${cellCharts.join('')}
${percentileChart('Zipf-skewed keys against hot and uniform keys', others, '10 entities × 10 features')}
${percentileChart('Connect per request (the classic mistake)', connect, '1 entity × 10 features; connect-per-request is a closed loop, one at a time')}
</div>
<h2>Throughput</h2>
<div class="grid3">${throughputChart(report.scenarios, report.rate_fraction)}</div>
<h2>Concurrency sweep</h2>
${sweepChart(report.scenarios)}
<h2>Against the baselines</h2>
<p class="notes">Ratios are scenario ÷ baseline for the same batch size and features. Against the direct driver and connect-per-request, latencies compare open-loop runs at the same offered rate (the Cassette cache-off scenario's). Feast's APIs (feast-grpc, feast-http) are against Cassette's own gRPC API on the same server and keys, each at the same fraction of its own maximum. Throughput compares closed-loop maxima. Green: the scenario better.</p>
${ratiosTable(report.ratios)}
${generatorsSection(report)}
${pythonCallerSection(report)}
<h2>All scenarios</h2>
<div class="scroll">${resultsTable(report.scenarios)}</div>
<h2>How this was measured</h2>
<ul class="notes">
<li>Load comes from a separate generator process over ${report.channels} gRPC channels (separate HTTP/2 connections), requests pre-encoded, responses kept as bytes.</li>
<li>Open loop: requests leave on a fixed schedule whatever the server does, and latency counts from each request's <em>intended</em> send time, so a stall shows in the tail instead of lowering the rate (no coordinated omission). “send lag” is how late the generator itself was, and “gen GC max” its longest garbage-collection pause: latencies near those figures may be the generator's, not the server's.</li>
<li>ghz rows (“(ghz)”, --generator ghz or both): the same request pool sent by ghz, a Go client, ${report.ghz ? report.ghz.concurrency : 16} callers over ${report.channels} connections for the maximum, its <code>--rps</code> rate limiter for the open-loop rate; responses are not decoded (an empty response type). Its fixed-rate latencies count from each call's actual send, so a stall lowers its rate rather than showing in the tail. Its warm-up is a separate unrecorded ghz run; CPU is taken around the measured ghz process and divided by ghz's own run time.</li>
<li>Closed loop (probe, sweep, connect-per-request): N callers, each sending when its previous answer arrives; latency from the actual send.</li>
<li>Latencies are recorded in HdrHistogram (µs, 3 significant digits); errors and timeouts are recorded with the time they took.</li>
<li>Warm: keys cycle over a hot set (${escapeHtml(hotSet)}), pre-warmed before the first scenario and again by each probe. Cold: uniform keys over the whole dataset against the server started with <code>--no-cache</code>. Cache hit ratio comes from the server's own counters (a stats line requested at the window's start and end).</li>
<li>CPU: /proc utime+stime over the measured window, 100 % = one core; “machine CPU” is every process on the machine, so a figure well above server + Cassandra + generator means something else was running. Compare within one report.</li>
</ul>
</main></body></html>
`;
}
