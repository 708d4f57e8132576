import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const RESULTS = join(import.meta.dirname, 'RESULTS.md');

/**
 * Replaces (or appends) one benchmark's section of bench/RESULTS.md, from its `heading` line to the
 * next `## ` heading: the other sections belong to the other benchmarks. `section` starts with `heading`.
 */
export async function writeResultsSection(heading: string, section: string): Promise<void> {
  const current = await readFile(RESULTS, 'utf8').catch(() => '# Benchmarks\n');
  const lines = current.split('\n');
  const start = lines.findIndex((line) => line.trim() === heading);
  let next: string;
  if (start < 0) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    const end = lines.findIndex((line, index) => index > start && /^## /.test(line));
    const after = end < 0 ? [] : lines.slice(end);
    next = [...lines.slice(0, start), ...section.trimEnd().split('\n'), ...(after.length ? ['', ...after] : [''])].join('\n');
  }
  await writeFile(RESULTS, `${next.trimEnd()}\n`);
}
