import {
  axes,
  CSS,
  escapeHtml,
  fmtMs,
  fmtNum,
  legend,
  linearScale,
  logScale,
  polyline,
  svg,
  type Frame,
} from '../html.js';
import type { HealthState } from './monitor.js';
import type { FaultReport, PhaseStats, RequestStats, ScenarioReport, SecondStats } from './report.js';

/**
 * The fault report as one self-contained HTML page (inline CSS and SVG, no script), in the
 * latency report's style: per scenario its checks, latency and failures per second with the
 * faults marked, health and server memory along the same time axis, and per-phase figures.
 */

const CODE_COLORS: Record<string, string> = {
  UNAVAILABLE: '#dc2626',
  DEADLINE_EXCEEDED: '#ea580c',
  RESOURCE_EXHAUSTED: '#9333ea',
  INTERNAL: '#0f172a',
  CANCELLED: '#64748b',
};
const otherCodeColor = '#a16207';
const HEALTH_COLORS: Record<HealthState, string> = {
  SERVING: '#16a34a',
  NOT_SERVING: '#dc2626',
  MIXED: '#f59e0b',
  UNREACHABLE: '#64748b',
};

const EXTRA_CSS = `
.scenario{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:18px 0}
.scenario h2{margin-top:0}.verdict{font-weight:700}.verdict.pass{color:#15803d}.verdict.fail{color:#b91c1c}
td.pass{background:#dcfce7}td.fail{background:#fee2e2}.events{columns:2;font-size:13px;color:#334155}
.error{color:#b91c1c;font-weight:600}
`;

const WIDE: Frame = { width: 960, height: 260, left: 56, right: 20, top: 16, bottom: 40 };

function eventMarkers(frame: Frame, x: (t: number) => number, report: ScenarioReport): string {
  return report.events
    .map((event, i) => {
      const px = x(event.t_s).toFixed(1);
      return `<line class="marker" x1="${px}" x2="${px}" y1="${frame.top}" y2="${frame.height - frame.bottom}"/><text class="marker-label" x="${px}" y="${frame.top + 10 + (i % 3) * 10}">${i + 1}</text>`;
    })
    .join('');
}

function timeScale(report: ScenarioReport, frame: Frame) {
  return linearScale(0, Math.max(1, report.duration_s), frame.left, frame.width - frame.right, 10);
}

/** Lookup p50 (dashed), p99 and max (thin) per second, log scale, faults marked. */
function latencyChart(report: ScenarioReport): string {
  const seconds = report.per_second.filter((s) => s.lookup_p99_ms !== null);
  if (seconds.length === 0) return '';
  const frame = WIDE;
  const x = timeScale(report, frame);
  const values = seconds.flatMap((s) => [s.lookup_p50_ms!, s.lookup_max_ms!]);
  const y = logScale(Math.max(0.1, Math.min(...values)), Math.max(...values), frame.height - frame.bottom, frame.top);
  let body = axes(frame, x, y, 'seconds into the scenario (by intended send time)', 'lookup latency (ms)');
  body += eventMarkers(frame, x, report);
  const line = (pick: (s: SecondStats) => number | null, color: string, dashed = false) =>
    polyline(
      seconds.map((s) => [x(s.t_s + 0.5), y(pick(s)!)]),
      color,
      dashed,
    );
  body += line((s) => s.lookup_max_ms, '#cbd5e1');
  body += line((s) => s.lookup_p50_ms, '#2563eb', true);
  body += line((s) => s.lookup_p99_ms, '#2563eb');
  return `<figure class="chart wide"><figcaption>Lookup latency per second<small>solid: p99 · dashed: p50 · grey: max · numbered lines: the events below</small></figcaption>${svg(frame, body, 'latency per second')}</figure>`;
}

/** Requests per second (pale bars) with failures stacked by gRPC code, lookups and writes together. */
function failureChart(report: ScenarioReport): string {
  const frame: Frame = { ...WIDE, height: 230 };
  const x = timeScale(report, frame);
  const max = Math.max(1, ...report.per_second.map((s) => s.lookups + s.writes));
  const y = linearScale(0, max, frame.height - frame.bottom, frame.top, 4);
  let body = axes(frame, x, y, 'seconds into the scenario', 'requests due in the second');
  const codes = new Set<string>();
  const width = Math.max(1, x(1) - x(0) - 1);
  for (const s of report.per_second) {
    const left = x(s.t_s) + 0.5;
    const total = s.lookups + s.writes;
    body += `<rect x="${left.toFixed(1)}" y="${y(total).toFixed(1)}" width="${width.toFixed(1)}" height="${(y(0) - y(total)).toFixed(1)}" fill="#94a3b8" opacity="0.35"/>`;
    let stacked = 0;
    const failures: Record<string, number> = { ...s.lookup_failures };
    for (const [code, n] of Object.entries(s.write_failures)) failures[code] = (failures[code] ?? 0) + n;
    for (const [code, n] of Object.entries(failures)) {
      codes.add(code);
      body += `<rect x="${left.toFixed(1)}" y="${y(stacked + n).toFixed(1)}" width="${width.toFixed(1)}" height="${(y(stacked) - y(stacked + n)).toFixed(1)}" fill="${CODE_COLORS[code] ?? otherCodeColor}"/>`;
      stacked += n;
    }
  }
  body += eventMarkers(frame, x, report);
  const items = [
    { label: 'requests (lookups and writes)', color: '#cbd5e1' },
    ...[...codes].map((code) => ({ label: `failed: ${code}`, color: CODE_COLORS[code] ?? otherCodeColor })),
  ];
  return `<figure class="chart wide"><figcaption>Requests and failures per second, by gRPC code</figcaption>${svg(frame, body, 'failures per second')}${legend(items)}</figure>`;
}

/** Health as a colored band and server RSS as a line, on the same time axis. */
function healthAndMemoryChart(report: ScenarioReport): string {
  const frame: Frame = { ...WIDE, height: 200 };
  const x = timeScale(report, frame);
  const rss = report.per_second.filter((s) => s.rss_mib !== null);
  const max = Math.max(1, ...rss.map((s) => s.rss_mib!));
  const y = linearScale(0, max * 1.1, frame.height - frame.bottom, frame.top + 14, 4);
  let body = axes(frame, x, y, 'seconds into the scenario', 'server RSS (MiB)');
  const width = Math.max(1, x(1) - x(0));
  for (const s of report.per_second) {
    if (s.health === null) continue;
    body += `<rect x="${x(s.t_s).toFixed(1)}" y="${frame.top}" width="${width.toFixed(1)}" height="10" fill="${HEALTH_COLORS[s.health]}"/>`;
  }
  if (rss.length > 0) {
    body += polyline(
      rss.map((s) => [x(s.t_s + 0.5), y(s.rss_mib!)]),
      '#0f172a',
    );
  }
  body += eventMarkers(frame, x, report);
  const items = Object.entries(HEALTH_COLORS).map(([state, color]) => ({ label: `health ${state}`, color }));
  return `<figure class="chart wide"><figcaption>Health (band) and server memory (line)</figcaption>${svg(frame, body, 'health and memory')}${legend(items)}</figure>`;
}

function codes(failures: Record<string, number>): string {
  const entries = Object.entries(failures);
  return entries.length === 0 ? '–' : entries.map(([code, n]) => `${escapeHtml(code)} ${fmtNum(n)}`).join(', ');
}

function statsCells(stats: RequestStats): string {
  return `<td class="num">${fmtNum(stats.requests)}</td><td class="num">${fmtNum(stats.ok)}</td><td class="${stats.failed > 0 ? 'fail' : ''}">${codes(stats.failures_by_code)}</td><td class="num">${fmtMs(stats.p50_ms)}</td><td class="num strong">${fmtMs(stats.p99_ms)}</td><td class="num">${fmtMs(stats.max_ms)}</td>`;
}

function phaseTable(phases: PhaseStats[]): string {
  if (phases.length === 0) return '';
  const rows = phases.map(
    (p) =>
      `<tr><td>${escapeHtml(p.name)}</td><td class="num">${fmtNum(p.from_s, 1)}–${fmtNum(p.to_s, 1)}</td>${statsCells(p.lookups)}<td class="num">${fmtNum(p.writes.requests)}</td><td class="${p.writes.failed > 0 ? 'fail' : ''}">${codes(p.writes.failures_by_code)}</td></tr>`,
  );
  return `<div class="scroll"><table><thead><tr><th>phase</th><th>seconds</th><th>lookups</th><th>ok</th><th>failed, by code</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>writes</th><th>failed writes</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function checksTable(report: ScenarioReport): string {
  const rows = report.checks.map(
    (c) =>
      `<tr><td class="${c.pass ? 'pass' : 'fail'}">${c.pass ? 'pass' : 'FAIL'}</td><td>${escapeHtml(c.target)}</td><td class="num strong">${c.value === null ? '–' : fmtNum(c.value, Number.isInteger(c.value) ? 0 : 2)} ${escapeHtml(c.unit)}</td><td>${c.op} ${fmtNum(c.limit, Number.isInteger(c.limit) ? 0 : 2)}</td></tr>`,
  );
  return `<table><thead><tr><th></th><th>target</th><th>measured</th><th>limit</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function figuresList(report: ScenarioReport): string {
  const items = Object.entries(report.figures).map(
    ([name, value]) => `<li><code>${escapeHtml(name)}</code>: ${escapeHtml(value === null ? '–' : String(value))}</li>`,
  );
  const load = report.load;
  items.push(
    `<li>CPU over the scenario (100 % = one core): machine ${fmtNum(load.machine_cpu_percent)} %, server ${fmtNum(load.server_cpu_percent)} %, Cassandra (3 JVMs) ${fmtNum(load.cassandra_cpu_percent)} %; load average ${load.load_average_start.join(' / ')} → ${load.load_average_end.join(' / ')}</li>`,
    `<li>An idle process's event-loop delay over the scenario (the machine's floor under every latency here): p99 ${fmtNum(load.idle_process_event_loop_delay_p99_ms)} ms, max ${fmtNum(load.idle_process_event_loop_delay_max_ms)} ms</li>`,
  );
  if (report.writes) {
    items.push(
      `<li>writes: ${fmtNum(report.writes.acknowledged)} acknowledged, ${fmtNum(report.writes.read_back)} read back${report.writes.missing.length ? ` (missing e.g. users ${report.writes.missing.join(', ')})` : ''}</li>`,
    );
  }
  return `<ul class="notes">${items.join('')}</ul>`;
}

function scenarioSection(report: ScenarioReport): string {
  const passed = report.checks.every((c) => c.pass) && report.error === null;
  const events = report.events.map((e) => `<li>${fmtNum(e.t_s, 1)} s: ${escapeHtml(e.label)}</li>`).join('');
  return `<section class="scenario"><h2>${escapeHtml(report.name)} <span class="verdict ${passed ? 'pass' : 'fail'}">${passed ? 'all targets met' : 'targets missed'}</span></h2>
<p class="notes">${escapeHtml(report.description)} (${fmtNum(report.duration_s)} s, from ${escapeHtml(report.started_at)})</p>
${report.error ? `<p class="error">The scenario stopped early: ${escapeHtml(report.error)}</p>` : ''}
${checksTable(report)}
${latencyChart(report)}
${failureChart(report)}
${healthAndMemoryChart(report)}
<ol class="events">${events}</ol>
${phaseTable(report.phases)}
${figuresList(report)}
</section>`;
}

export function renderFaultHtml(report: FaultReport): string {
  const m = report.machine;
  const meta = [
    `<b>${escapeHtml(report.date)}</b>`,
    `commit <b>${escapeHtml(report.git_commit.slice(0, 10))}${report.git_dirty ? ' (dirty)' : ''}</b>`,
    `${m.cores} cores (${escapeHtml(m.cpu_model)}), ${fmtNum(m.memory_gb, 0)} GB, Node ${escapeHtml(m.node)}`,
    `${report.cluster.nodes} nodes (${escapeHtml(report.cluster.contact_points.join(', '))}), heap ${escapeHtml(report.cluster.heap)}, RF ${report.cluster.replication_factor}, ${escapeHtml(report.cluster.consistency)}`,
    `wall time ${fmtNum(report.wall_seconds)} s${report.quick ? ' (--quick)' : ''}`,
  ].join(' · ');
  const c = report.calibration;
  const calibration = c
    ? `<p class="notes">Calibration (closed loop, ranking_v1 lookups): ${c.sweep
        .map((p) => `${p.concurrency} in flight ${fmtNum(p.rps, 1)}/s (p99 ${fmtMs(p.p99_ms)} ms)`)
        .join(
          ' · ',
        )}; knee at ${c.kneeConcurrency} in flight. Steady load: ${fmtNum(c.lookupsPerSecond, 2)} lookups/s and ${fmtNum(c.writesPerSecond, 2)} writes/s.</p>`
    : '';
  const summary = report.scenarios
    .map((s) => {
      const failed = s.checks.filter((c) => !c.pass).length;
      return `<tr><td>${escapeHtml(s.name)}</td><td class="${failed === 0 && !s.error ? 'pass' : 'fail'}">${s.checks.length - failed} of ${s.checks.length} met${s.error ? ' (stopped early)' : ''}</td></tr>`;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Cassette fault report · ${escapeHtml(report.date)}</title><style>${CSS}${EXTRA_CSS}</style></head>
<body><main>
<h1>Cassette fault report</h1>
<p class="meta">${meta}</p>
${calibration}
<table><thead><tr><th>scenario</th><th>targets</th></tr></thead><tbody>${summary}</tbody></table>
${report.scenarios.map(scenarioSection).join('\n')}
<h2>How this was measured</h2>
<ul class="notes">
<li>Each scenario starts its own <code>cassette serve</code> (row cache off, LOCAL_QUORUM reads and writes) against a local 3-node cluster (RF 3), and sends from this process over separate HTTP/2 connections.</li>
<li>Steady load is an open loop: requests leave on a fixed schedule whatever the server does, and a request belongs to the second (and phase) it was due in. Latency counts from that intended time, except in the overload scenario's checks, which count from the actual send (the generator's own lag at ten times the rate is reported as <code>send_lag_p99_ms</code>).</li>
<li>Health is polled every 200 ms for the server and both data services; the band shows the state at the end of each second. RSS is the server's resident memory, sampled every 500 ms.</li>
<li>Writes go to users no lookup reads, each with its own value; at the end every acknowledged write is read back.</li>
</ul>
</main></body></html>
`;
}
