import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { DrillEntry, EvidencePeriod } from './model.ts';

/** One line of a chart: a measure's name and its value (seconds) per drill; null where the drill has none. */
export interface ChartSeries {
  name: string;
  color: string;
  value: (drill: DrillEntry) => number | null;
}

export interface ChartRequest {
  title: string;
  drills: readonly DrillEntry[];
  series: readonly ChartSeries[];
  /** The target of each drill (seconds): a rule when it never changed, a stepped line when it did. */
  target: (drill: DrillEntry) => number | null;
  period: EvidencePeriod;
  width?: number;
  height?: number;
}

const UNITS = [
  { name: 'seconds', seconds: 1, upTo: 180 },
  { name: 'minutes', seconds: 60, upTo: 3 * 3600 },
  { name: 'hours', seconds: 3600, upTo: Number.POSITIVE_INFINITY },
] as const;

function unitFor(largest: number) {
  return UNITS.find((unit) => largest <= unit.upTo) ?? UNITS[2];
}

/** A long polyline's absolute `M x,y L x,y …` as whole-pixel relative steps (`M x,y l dx,dy …`): a third of its weight. */
function relativePolyline(data: string): string {
  const points = data.match(/[ML]-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?/g);
  if (!points || points.join('') !== data) return data;
  let previous: [number, number] | undefined;
  let out = '';
  let inRun = false;
  for (const point of points) {
    const [x, y] = point.slice(1).split(',').map((value) => Math.round(Number(value))) as [number, number];
    if (point[0] === 'M' || !previous) {
      out += `M${x},${y}`;
      inRun = false;
    } else {
      // After one `l`, further pairs are implicit `l`s; a minus sign separates numbers by itself.
      const step = `${x - previous[0]},${y - previous[1]}`;
      out += inRun ? (step.startsWith('-') ? step : ` ${step}`) : `l${step}`;
      inRun = true;
    }
    previous = [x, y];
  }
  return out;
}

/**
 * Vega's SVG, lighter: a year of daily drills is 365 points a line, and the scene graph writes empty
 * placeholder paths and accessibility roles (aria is off) on every group. What is drawn is unchanged.
 */
export function compactSvg(svg: string): string {
  const round = (number: string) => String(Math.round(Number(number) * 10) / 10);
  return (
    svg
      .replace(/<path class="foreground"[^>]*display="none"\/>/g, '')
      // Group backgrounds without a stroke draw nothing: the root group's fill is none.
      .replace(/<path class="background"(?: aria-hidden="true")? d="M[^"]*"(?: pointer-events="none")?(?: opacity="1")?\/>/g, '')
      .replace(/ (?:aria-hidden|role|aria-roledescription|pointer-events)="[^"]*"/g, '')
      .replace(/ opacity="1"| stroke-width="1"(?=[ />])/g, '')
      // Scene-graph classes, but for the lines (the browser test finds them by class).
      .replace(/ class="(mark-[^"]*)"/g, (_match, names: string) => (names.startsWith('mark-line') ? ' class="mark-line"' : ''))
      .replace(/<g transform="translate\(0,0\)">/g, '<g>')
      .replace(/translate\((-?[\d.]+),(-?[\d.]+)\)/g, (_match, x: string, y: string) => `translate(${round(x)},${round(y)})`)
      .replace(/ d="([^"]{200,})"/g, (_match, data: string) => ` d="${relativePolyline(data)}"`)
      // Every text names the same font: once on the root group, which the texts inherit it from.
      .replace(/ font-family="sans-serif"/g, '')
      .replace(/<g fill="none"/, '<g fill="none" font-family="sans-serif"')
  );
}

/** The Vega-Lite specification of one chart: lines per series over the period, the target in red. */
export function chartSpec(request: ChartRequest): TopLevelSpec {
  const targets = request.drills.map(request.target).filter((value): value is number => typeof value === 'number');
  const values: { time: string; series: string; value: number | null }[] = [];
  let largest = Math.max(0, ...targets);
  for (const drill of request.drills) {
    for (const series of request.series) {
      const value = series.value(drill);
      if (typeof value === 'number' && Number.isFinite(value)) largest = Math.max(largest, value);
      values.push({ time: drill.report.startedAt, series: series.name, value: typeof value === 'number' && Number.isFinite(value) ? value : null });
    }
  }
  const unit = unitFor(largest);
  const scaled = values.map((row) => ({ ...row, value: row.value === null ? null : Math.round((row.value / unit.seconds) * 1000) / 1000 }));
  const distinctTargets = [...new Set(targets)];
  const x = {
    field: 'time',
    type: 'temporal' as const,
    title: null,
    scale: { domain: [request.period.since.toISOString(), request.period.until.toISOString()] },
    axis: { format: '%b %d', labelOverlap: true as const, grid: false },
  };
  const y = { field: 'value', type: 'quantitative' as const, title: unit.name, scale: { zero: true } };
  const targetLayer =
    distinctTargets.length === 1
      ? { data: { values: [{ target: distinctTargets[0]! / unit.seconds }] }, mark: { type: 'rule' as const, color: '#c62828', strokeDash: [6, 4] }, encoding: { y: { field: 'target', type: 'quantitative' as const, title: unit.name } } }
      : {
          data: { values: request.drills.map((drill) => ({ time: drill.report.startedAt, target: (request.target(drill) ?? Number.NaN) / unit.seconds })) },
          mark: { type: 'line' as const, color: '#c62828', strokeDash: [6, 4], interpolate: 'step-after' as const },
          encoding: { x, y: { field: 'target', type: 'quantitative' as const, title: unit.name } },
        };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: request.title, anchor: 'start', fontSize: 13 },
    width: request.width ?? 640,
    height: request.height ?? 150,
    config: { aria: false, font: 'sans-serif', view: { stroke: '#ddd' }, axis: { gridColor: '#eee', tickCount: 5 } },
    layer: [
      {
        data: { values: scaled },
        mark: { type: 'line', strokeWidth: 1.5, interpolate: 'linear' },
        encoding: {
          x,
          y,
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: { domain: request.series.map((series) => series.name), range: request.series.map((series) => series.color) },
            legend: { orient: 'top', direction: 'horizontal' },
          },
        },
      },
      ...(distinctTargets.length ? [targetLayer] : []),
    ],
    resolve: { scale: { y: 'shared' } },
  } as TopLevelSpec;
}

/** The chart as SVG markup, rendered in Node by Vega's headless view (no DOM, no canvas). */
export async function renderChartSvg(request: ChartRequest): Promise<string> {
  const view = new vega.View(vega.parse(compile(chartSpec(request)).spec), { renderer: 'none' });
  try {
    return compactSvg(await view.toSVG());
  } finally {
    view.finalize();
  }
}
