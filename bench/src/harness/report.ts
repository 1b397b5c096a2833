import type {
  BenchResults,
  MachineInfo,
  ResultRow,
  SuiteResult,
  TargetCheck,
  TargetUnit,
} from './results';

type Style = 'console' | 'markdown';

interface Column {
  title: string;
  align: 'left' | 'right';
}

/** An aligned plain-text table, or a GitHub Markdown table. */
export function renderTable(columns: Column[], rows: string[][], style: Style): string {
  const widths = columns.map((column, i) =>
    Math.max(column.title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const cell = (text: string, i: number) => {
    const width = widths[i] ?? 0;
    return columns[i]?.align === 'right' ? text.padStart(width) : text.padEnd(width);
  };
  const line = (cells: string[]) =>
    style === 'markdown'
      ? `| ${cells.map(cell).join(' | ')} |`
      : cells.map(cell).join('  ').trimEnd();
  const rule =
    style === 'markdown'
      ? `| ${widths.map((w, i) => (columns[i]?.align === 'right' ? `${'-'.repeat(Math.max(1, w - 1))}:` : '-'.repeat(w))).join(' | ')} |`
      : widths.map((w) => '─'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join('\n');
}

export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return '–';
  if (us < 10) return us.toFixed(2);
  if (us < 1000) return us.toFixed(1);
  return us.toFixed(0);
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/** A difference in µs with its sign: `+52.6`, `-14.0`. */
export function formatDifference(us: number): string {
  if (!Number.isFinite(us)) return '–';
  return `${us < 0 ? '-' : '+'}${formatMicros(Math.abs(us))}`;
}

function ratioColumns(rows: ResultRow[]) {
  const names: string[] = [];
  for (const row of rows) {
    for (const ratio of row.ratios) if (!names.includes(ratio.column)) names.push(ratio.column);
  }
  return names;
}

function ratioCells(row: ResultRow, names: string[]) {
  return names.map((name) => {
    const ratio = row.ratios.find((r) => r.column === name);
    if (!ratio) return '';
    return ratio.what === 'median latency difference'
      ? formatDifference(ratio.value)
      : formatRatio(ratio.value);
  });
}

function formatRoundTrips(value: number | undefined) {
  if (value === undefined) return '';
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** The suite's table: latency figures, or throughput figures for HTTP. */
export function formatSuiteTable(suite: SuiteResult, style: Style): string {
  const names = ratioColumns(suite.rows);
  const left = (title: string): Column => ({ title, align: 'left' });
  const right = (title: string): Column => ({ title, align: 'right' });
  const ratioHeaders = names.map(right);
  if (suite.rows.some((row) => row.http)) {
    return renderTable(
      [
        left('contender'),
        right('req/s'),
        right('p50 ms'),
        right('p99 ms'),
        right('requests'),
        right('failures'),
        right('server CPU µs'),
        ...ratioHeaders,
      ],
      suite.rows.map((row) => [
        row.label,
        row.http ? row.http.requestsPerSec.toFixed(0) : '–',
        row.http ? row.http.p50Ms.toFixed(2) : '–',
        row.http ? row.http.p99Ms.toFixed(2) : '–',
        row.http ? String(row.http.requests) : '–',
        row.http ? String(row.http.failures) : '–',
        row.http ? row.http.serverCpuUs.toFixed(0) : '–',
        ...ratioCells(row, names),
      ]),
      style,
    );
  }
  const roundTrips = suite.rows.some((row) => row.roundTrips !== undefined);
  return renderTable(
    [
      left('contender'),
      right('p50 µs'),
      right('p99 µs'),
      right('mean µs'),
      right('calls'),
      ...(roundTrips ? [right('round trips')] : []),
      ...ratioHeaders,
    ],
    suite.rows.map((row) => [
      row.label,
      formatMicros(row.latency?.p50Us ?? Number.NaN),
      formatMicros(row.latency?.p99Us ?? Number.NaN),
      formatMicros(row.latency?.meanUs ?? Number.NaN),
      String(row.latency?.samples ?? '–'),
      ...(roundTrips ? [formatRoundTrips(row.roundTrips)] : []),
      ...ratioCells(row, names),
    ]),
    style,
  );
}

function formatTargetValue(value: number, unit: TargetUnit): string {
  if (!Number.isFinite(value)) return '–';
  if (unit === 'µs') return `${formatMicros(value)} µs`;
  if (unit === 'round trips') return `plain + ${formatRoundTrips(value)}`;
  return formatRatio(value);
}

function formatLimit(target: TargetCheck): string {
  return `${target.comparison === '<=' ? '≤' : '≥'} ${formatTargetValue(target.limit, target.unit)}`;
}

export function formatTargets(results: BenchResults, style: Style): string {
  const rows = results.suites.flatMap((suite) =>
    suite.targets.map((target) => [
      target.description,
      formatTargetValue(target.measured, target.unit),
      formatLimit(target),
      target.met ? 'met' : 'MISSED',
    ]),
  );
  return renderTable(
    [
      { title: 'measure (issue #23 targets)', align: 'left' },
      { title: 'measured', align: 'right' },
      { title: 'target', align: 'right' },
      { title: 'result', align: 'left' },
    ],
    rows,
    style,
  );
}

export function formatMachine(machine: MachineInfo): string {
  const revision =
    machine.gitCommit === null
      ? 'unknown revision'
      : `${machine.gitCommit}${machine.libraryDirty ? ' (library with uncommitted changes)' : ''}`;
  return [
    `${machine.cpuCount} × ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.os}`,
    `Node ${machine.node} (V8 ${machine.v8}), SQLite ${machine.sqlite}, revision ${revision}, library ${machine.library === 'built' ? 'built (dist/)' : 'from TypeScript source (tsx)'}`,
    `${machine.date}, load average at start ${machine.loadAverageAtStart.join(' / ')}`,
  ].join('\n');
}

/** Everything, as the console shows it at the end of a run. */
export function formatConsole(results: BenchResults): string {
  const parts = [formatMachine(results.machine), ''];
  for (const suite of results.suites) {
    parts.push(`■ ${suite.title}`);
    if (suite.skipped) {
      parts.push(`  skipped: ${suite.skipped}`, '');
      continue;
    }
    parts.push(formatSuiteTable(suite, 'console'));
    for (const note of suite.notes) parts.push(`  · ${note}`);
    parts.push('');
  }
  if (results.suites.some((suite) => suite.targets.length > 0)) {
    parts.push('■ Targets', formatTargets(results, 'console'), '');
  }
  parts.push(
    `${results.quick ? 'quick run (smoke check) — ' : ''}${results.durationS.toFixed(0)} s`,
  );
  return parts.join('\n');
}

/** The results section of BENCHMARKS.md. */
export function formatMarkdown(results: BenchResults): string {
  const parts = [
    `Measured with \`${results.command}\`${results.quick ? ' (quick run: a smoke check, not figures to quote)' : ''} in ${results.durationS.toFixed(0)} s on:`,
    '',
    '```',
    formatMachine(results.machine),
    '```',
    '',
  ];
  for (const suite of results.suites) {
    parts.push(`### ${suite.title}`, '');
    if (suite.skipped) {
      parts.push(`Not measured: ${suite.skipped}`, '');
      continue;
    }
    parts.push(suite.description, '', formatSuiteTable(suite, 'markdown'), '');
    const settings = Object.entries(suite.settings)
      .map(([name, value]) => `${name} ${Array.isArray(value) ? value.join(', ') : String(value)}`)
      .join(' · ');
    parts.push(`<sub>${settings}</sub>`, '');
    for (const note of suite.notes) parts.push(`- ${note}`);
    if (suite.notes.length > 0) parts.push('');
  }
  if (results.suites.some((suite) => suite.targets.length > 0)) {
    parts.push('### Targets', '', formatTargets(results, 'markdown'), '');
  }
  return parts.join('\n');
}
