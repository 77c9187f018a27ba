/** Per-run created / closed / reopened / URBA-closed bars (visx: d3 scales, SVG shapes), and open findings by severity. */
import { Bar, Line } from '@visx/shape';
import { Group } from '@visx/group';
import { scaleBand, scaleLinear } from '@visx/scale';
import { SEVERITIES } from '../types.ts';

export interface ChartPoint {
  runId: string;
  at: string;
  created: number;
  closed: number;
  reopened: number;
  urbaClosed: number;
}

const SERIES = [
  { key: 'created', label: 'Created', color: '#1f6feb' },
  { key: 'closed', label: 'Closed', color: '#1a7f37' },
  { key: 'reopened', label: 'Reopened', color: '#bf3989' },
  { key: 'urbaClosed', label: 'URBA-closed', color: '#9a6700' },
] as const;

export function RunsChart({ points }: { points: ChartPoint[] }) {
  const h = 140;
  const left = 40;
  const w = Math.max(200, points.length * 48 + left);
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map((s) => p[s.key])));
  const runScale = scaleBand<string>({ domain: points.map((p) => p.runId), range: [left, w], paddingInner: 0.2 });
  const seriesScale = scaleBand<string>({ domain: SERIES.map((s) => s.key), range: [0, runScale.bandwidth()], padding: 0.05 });
  const y = scaleLinear<number>({ domain: [0, max], range: [h, 10] });
  return (
    <figure className="chart">
      <svg role="img" aria-labelledby="runs-chart-title" width={w} height={h + 30} viewBox={`0 0 ${w} ${h + 30}`}>
        <title id="runs-chart-title">Findings created, closed, reopened and URBA-closed per run, oldest first</title>
        <Line from={{ x: 30, y: h }} to={{ x: w, y: h }} stroke="#555" />
        <text x={0} y={12} fontSize={10}>
          {max}
        </text>
        {points.map((p, i) => (
          <Group key={p.runId} left={runScale(p.runId) ?? 0}>
            {SERIES.map((s) => {
              const top = y(p[s.key]);
              return (
                <Bar key={s.key} x={seriesScale(s.key) ?? 0} y={top} width={seriesScale.bandwidth()} height={h - top} fill={s.color} data-series={s.key} data-value={p[s.key]}>
                  <title>{`${s.label}: ${p[s.key]} (run of ${p.at})`}</title>
                </Bar>
              );
            })}
            <text x={0} y={h + 14} fontSize={9}>
              #{i + 1}
            </text>
          </Group>
        ))}
      </svg>
      <figcaption>
        {SERIES.map((s) => (
          <span key={s.key} className="legend">
            <span className="swatch" style={{ background: s.color }} aria-hidden="true" /> {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export function SeverityBar({ counts: given }: { counts: Partial<Record<string, number>> }) {
  // host detail counts findings without a severity as "Unset", the overview as "Unknown"
  const counts: Partial<Record<string, number>> = { ...given, Unknown: (given.Unknown ?? 0) + (given.Unset ?? 0) };
  const total = SEVERITIES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return (
    <span className="sevbar">
      {SEVERITIES.filter((s) => counts[s]).map((s) => (
        <span key={s} className={`sev sev-${s}`}>
          {s} {counts[s]}
        </span>
      ))}
      {total === 0 && <span className="sub">none open</span>}
    </span>
  );
}
