/** Schedule presets (hourly, daily at, weekly on), advanced cron, time zone, and the next three runs from the API. */
import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { Schedule } from '../types.ts';
import { ErrorBox } from './error-box.tsx';

export type ScheduleKind = 'none' | Schedule['kind'];

export interface ScheduleDraft {
  kind: ScheduleKind;
  minute: string;
  time: string;
  day: string;
  cron: string;
  timezone: string;
}

export function draftOf(s: Schedule | null): ScheduleDraft {
  const d: ScheduleDraft = { kind: 'none', minute: '0', time: '02:00', day: 'mon', cron: '0 2 * * *', timezone: 'UTC' };
  if (!s || s.enabled === false) return s ? { ...d, timezone: s.timezone } : d;
  d.kind = s.kind;
  d.timezone = s.timezone;
  if (s.kind === 'hourly') d.minute = String(s.minute);
  if (s.kind === 'daily') d.time = s.time;
  if (s.kind === 'weekly') Object.assign(d, { day: s.day, time: s.time });
  if (s.kind === 'cron') d.cron = s.cron;
  return d;
}

export function scheduleOf(d: ScheduleDraft): Schedule | null {
  const timezone = d.timezone.trim() || 'UTC';
  switch (d.kind) {
    case 'none':
      return null;
    case 'hourly':
      return { kind: 'hourly', minute: Number(d.minute), timezone };
    case 'daily':
      return { kind: 'daily', time: d.time, timezone };
    case 'weekly':
      return { kind: 'weekly', day: d.day, time: d.time, timezone };
    case 'cron':
      return { kind: 'cron', cron: d.cron, timezone };
  }
}

const DAYS: [string, string][] = [
  ['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday'],
];

/** the value settles for 400 ms before it is previewed (one request per pause in typing) */
function useSettled<T>(value: T, ms = 400): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function ScheduleEditor({ draft, onChange, disabled }: { draft: ScheduleDraft; onChange(d: ScheduleDraft): void; disabled?: boolean }) {
  const set = (patch: Partial<ScheduleDraft>) => onChange({ ...draft, ...patch });
  const schedule = useSettled(scheduleOf(draft));
  const preview = useQuery({
    queryKey: ['schedule-preview', schedule],
    queryFn: () => api<{ valid: boolean; nextRuns: string[]; text: string }>('POST', '/api/schedules/preview', { schedule }),
    enabled: schedule !== null && !disabled,
  });
  return (
    <fieldset disabled={disabled}>
      <legend>Schedule</legend>
      <label htmlFor="schedule-kind">Runs</label>
      <select id="schedule-kind" value={draft.kind} onChange={(e) => set({ kind: e.target.value as ScheduleKind })}>
        <option value="none">On demand only</option>
        <option value="hourly">Hourly</option>
        <option value="daily">Daily at</option>
        <option value="weekly">Weekly on</option>
        <option value="cron">Advanced (cron)</option>
      </select>
      {draft.kind === 'hourly' && (
        <>
          <label htmlFor="schedule-minute">Minute past the hour</label>
          <input id="schedule-minute" type="number" min={0} max={59} value={draft.minute} onChange={(e) => set({ minute: e.target.value })} />
        </>
      )}
      {draft.kind === 'weekly' && (
        <>
          <label htmlFor="schedule-day">Day</label>
          <select id="schedule-day" value={draft.day} onChange={(e) => set({ day: e.target.value })}>
            {DAYS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </>
      )}
      {(draft.kind === 'daily' || draft.kind === 'weekly') && (
        <>
          <label htmlFor="schedule-time">Time (24h)</label>
          <input id="schedule-time" type="time" value={draft.time} onChange={(e) => set({ time: e.target.value })} required />
        </>
      )}
      {draft.kind === 'cron' && (
        <>
          <label htmlFor="schedule-cron">Cron expression (minute hour day month weekday)</label>
          <input id="schedule-cron" value={draft.cron} onChange={(e) => set({ cron: e.target.value })} />
        </>
      )}
      {draft.kind !== 'none' && (
        <>
          <label htmlFor="schedule-tz">Time zone</label>
          <input id="schedule-tz" value={draft.timezone} onChange={(e) => set({ timezone: e.target.value })} placeholder="UTC or e.g. Europe/Paris" />
        </>
      )}
      {schedule && preview.data && (
        <div aria-live="polite" className="preview" data-testid="schedule-preview">
          <p>Runs {preview.data.text}. Next three runs:</p>
          <ol>
            {preview.data.nextRuns.map((r) => (
              <li key={r}>
                <time dateTime={r}>{new Date(r).toUTCString()}</time>
              </li>
            ))}
          </ol>
        </div>
      )}
      {schedule && <ErrorBox error={preview.error} />}
    </fieldset>
  );
}
