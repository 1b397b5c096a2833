import type { BenchResults, MachineInfo, ResultRow, SuiteResult } from './results';

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
    return ratio ? formatRatio(ratio.value) : '';
  });
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
        ...ratioHeaders,
      ],
      suite.rows.map((row) => [
        row.label,
        row.http ? row.http.requestsPerSec.toFixed(0) : '–',
        row.http ? row.http.p50Ms.toFixed(2) : '–',
        row.http ? row.http.p99Ms.toFixed(2) : '–',
        row.http ? String(row.http.requests) : '–',
        row.http ? String(row.http.failures) : '–',
        ...ratioCells(row, names),
      ]),
      style,
    );
  }
  return renderTable(
    [
      left('contender'),
      right('p50 µs'),
      right('p75 µs'),
      right('p99 µs'),
      right('mean µs'),
      right('calls'),
      ...ratioHeaders,
    ],
    suite.rows.map((row) => [
      row.label,
      formatMicros(row.latency?.p50Us ?? Number.NaN),
      formatMicros(row.latency?.p75Us ?? Number.NaN),
      formatMicros(row.latency?.p99Us ?? Number.NaN),
      formatMicros(row.latency?.meanUs ?? Number.NaN),
      String(row.latency?.samples ?? '–'),
      ...ratioCells(row, names),
    ]),
    style,
  );
}

export function formatTargets(results: BenchResults, style: Style): string {
  const rows = results.suites.flatMap((suite) =>
    suite.targets.map((target) => [
      target.description,
      `${target.comparison} ${target.limit}`,
      formatRatio(target.measured),
      target.met ? 'met' : 'MISSED',
    ]),
  );
  return renderTable(
    [
      { title: 'target (issue #6)', align: 'left' },
      { title: 'limit', align: 'right' },
      { title: 'measured', align: 'right' },
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
    `Node ${machine.node} (V8 ${machine.v8}), SQLite ${machine.sqlite}, revision ${revision}`,
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
