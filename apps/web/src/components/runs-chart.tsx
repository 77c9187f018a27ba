/** Per-run created / closed / reopened / URBA-closed bars, and open findings by severity, as plain SVG (no chart library: a few KB). */
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
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map((s) => p[s.key])));
  const groupW = 48;
  const barW = 10;
  const h = 140;
  const w = Math.max(200, points.length * groupW + 40);
  return (
    <figure className="chart">
      <svg role="img" aria-labelledby="runs-chart-title" width={w} height={h + 30} viewBox={`0 0 ${w} ${h + 30}`}>
        <title id="runs-chart-title">Findings created, closed, reopened and URBA-closed per run, oldest first</title>
        <line x1={30} y1={h} x2={w} y2={h} stroke="#555" />
        <text x={0} y={12} fontSize={10}>
          {max}
        </text>
        {points.map((p, i) => (
          <g key={p.runId} transform={`translate(${40 + i * groupW},0)`}>
            {SERIES.map((s, j) => {
              const bh = (p[s.key] / max) * (h - 10);
              return (
                <rect key={s.key} x={j * barW} y={h - bh} width={barW - 1} height={bh} fill={s.color} data-series={s.key} data-value={p[s.key]}>
                  <title>{`${s.label}: ${p[s.key]} (run of ${p.at})`}</title>
                </rect>
              );
            })}
            <text x={0} y={h + 14} fontSize={9}>
              #{i + 1}
            </text>
          </g>
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
