/**
 * The benchmark's tables: one shape for every section of `npm run bench` (workflow costs here,
 * bundle sizes elsewhere), printed as a compact console table or as Markdown for the README.
 */

export interface BenchTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  /** Columns whose cells are numbers: right-aligned. @default every column but the first */
  readonly numeric?: readonly number[];
  /** Printed under the table (Markdown) or after it (console). */
  readonly notes?: readonly string[];
}

function isNumeric(table: BenchTable, column: number): boolean {
  return table.numeric ? table.numeric.includes(column) : column > 0;
}

function widths(table: BenchTable): number[] {
  return table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
}

export function consoleTable(table: BenchTable): string {
  const w = widths(table);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (isNumeric(table, i) ? cell.padStart(w[i] ?? 0) : cell.padEnd(w[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    table.title,
    line(table.columns),
    w.map((n) => '-'.repeat(n)).join('  '),
    ...table.rows.map(line),
    ...(table.notes ?? []).map((n) => `  ${n}`),
  ].join('\n');
}

export function markdownTable(table: BenchTable): string {
  const pipes = (cell: string) => cell.replace(/\|/g, '\\|');
  const escaped: BenchTable = {
    ...table,
    columns: table.columns.map(pipes),
    rows: table.rows.map((row) => row.map(pipes)),
  };
  const w = widths(escaped);
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (isNumeric(table, i) ? cell.padStart(w[i] ?? 0) : cell.padEnd(w[i] ?? 0))).join(' | ')} |`;
  const rule = w.map((n, i) => (isNumeric(table, i) ? `${'-'.repeat(n + 1)}:` : `:${'-'.repeat(n + 1)}`));
  return [
    `#### ${table.title}`,
    '',
    line(escaped.columns),
    `|${rule.join('|')}|`,
    ...escaped.rows.map(line),
    ...(table.notes?.length ? ['', ...table.notes] : []),
  ].join('\n');
}

/** Thousands separators for counts, fixed decimals for durations. */
export function fmt(value: number, decimals = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
