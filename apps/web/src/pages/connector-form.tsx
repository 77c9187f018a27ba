/**
 * Create or edit a connector. The password is write-only: editing shows "unchanged" and sends a
 * password only when one is typed. Validation errors come from the API and sit next to their field.
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useBlocker, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, get } from '../api.ts';
import type { Connector } from '../types.ts';
import { useCanWrite } from '../session.tsx';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { draftOf, ScheduleEditor, scheduleOf, type ScheduleDraft } from '../components/schedule-editor.tsx';
import { TestCredentials } from '../components/test-credentials.tsx';

interface Draft {
  name: string;
  url: string;
  username: string;
  password: string;
  network: string;
  reportTitlePrefix: string;
  source: 'policy-report' | 'posture';
  /** comma-separated; empty: every policy the user can see */
  policyIds: string;
  schedule: ScheduleDraft;
  autoUrba: boolean;
  urbaDryRun: boolean;
  urbaThreshold: string;
}

function draftFrom(c: Connector | undefined): Draft {
  return {
    name: c?.name ?? '',
    url: c?.url ?? 'https://qualysapi.qualys.com',
    username: c?.username ?? '',
    password: '',
    network: c?.network ?? 'default',
    reportTitlePrefix: c?.reportTitlePrefix ?? '',
    source: c?.source ?? 'policy-report',
    policyIds: c?.posture?.policyIds?.join(', ') ?? '',
    schedule: draftOf(c?.schedule ?? null),
    autoUrba: c?.autoUrba ?? false,
    urbaDryRun: c?.urbaDryRun ?? false,
    urbaThreshold: c?.urbaThreshold == null ? '' : String(c.urbaThreshold),
  };
}

/** "name: is required; url: not a valid URL" -> { name: 'is required', url: 'not a valid URL' } */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || err.code !== 'VALIDATION_FAILED') return {};
  const out: Record<string, string> = {};
  for (const part of err.message.split('; ')) {
    const i = part.indexOf(': ');
    if (i > 0) out[part.slice(0, i).split('.')[0]!] = part.slice(i + 2);
  }
  return out;
}

export function ConnectorFormPage() {
  const { id } = useParams();
  const existing = useQuery({ queryKey: ['connector', id], queryFn: () => get<Connector>(`/api/connectors/${encodeURIComponent(id!)}`), enabled: !!id });
  if (id && existing.isPending) return <Loading what="connector" />;
  if (id && existing.error) return <ErrorBox error={existing.error} />;
  return <ConnectorForm key={id ?? 'new'} connector={existing.data} />;
}

function ConnectorForm({ connector }: { connector: Connector | undefined }) {
  const navigate = useNavigate();
  const qc = useQueryClient();
  const canWrite = useCanWrite();
  const initial = useMemo(() => draftFrom(connector), [connector]);
  const [d, setD] = useState<Draft>(initial);
  const [saved, setSaved] = useState(false);
  const dirty = !saved && JSON.stringify(d) !== JSON.stringify(initial);
  // the API's errors of the last Save, each dropped once its field is edited
  const [errs, setErrs] = useState<Record<string, string>>({});
  const set = (patch: Partial<Draft>) => {
    setD((x) => ({ ...x, ...patch }));
    setErrs((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !(k in patch))));
  };

  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const save = useMutation({
    mutationFn: async () => {
      const body: Record<string, unknown> = {
        name: d.name,
        url: d.url,
        username: d.username,
        network: d.network,
        source: d.source,
        schedule: scheduleOf(d.schedule),
        autoUrba: d.autoUrba,
        urbaDryRun: d.urbaDryRun,
      };
      if (d.source === 'policy-report' || d.reportTitlePrefix.trim() !== '') body.reportTitlePrefix = d.reportTitlePrefix;
      if (d.source === 'posture') {
        const ids = d.policyIds.split(/[\s,]+/).filter(Boolean);
        body.posture = { policyIds: ids.length ? ids : null };
      }
      if (d.urbaThreshold.trim() !== '') body.urbaThreshold = Number(d.urbaThreshold);
      else if (connector) body.urbaThreshold = null;
      if (d.password !== '' || !connector) body.password = d.password;
      return connector
        ? api<Connector>('PATCH', `/api/connectors/${encodeURIComponent(connector.id)}`, body)
        : api<Connector>('POST', '/api/connectors', body);
    },
    onError: (err) => setErrs(fieldErrors(err)),
    onSuccess: async () => {
      setSaved(true);
      await qc.invalidateQueries({ queryKey: ['connectors'] });
      await qc.invalidateQueries({ queryKey: ['connector'] });
    },
  });
  useEffect(() => {
    if (saved) navigate('/integrations');
  }, [saved, navigate]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const field = (key: keyof Draft & string, label: string, props: Record<string, unknown> = {}) => (
    <div className="field">
      <label htmlFor={`f-${key}`}>{label}</label>
      <input
        id={`f-${key}`}
        name={key}
        value={d[key] as string}
        onChange={(e) => set({ [key]: e.target.value } as Partial<Draft>)}
        aria-invalid={errs[key] ? true : undefined}
        aria-describedby={errs[key] ? `e-${key}` : undefined}
        {...props}
      />
      {errs[key] && (
        <span id={`e-${key}`} className="field-error">
          {label} {errs[key]}
        </span>
      )}
    </div>
  );

  return (
    <>
      <h1>{connector ? `Edit ${connector.name}` : 'Configure Qualys Policy Compliance'}</h1>
      <form onSubmit={submit} aria-label="Connector" noValidate>
        <fieldset disabled={!canWrite}>
          <legend>Connection</legend>
          {field('name', 'Name')}
          {field('url', 'URL', { type: 'url' })}
          {field('username', 'User Name', { autoComplete: 'off' })}
          {field('password', 'Password', {
            type: 'password',
            autoComplete: 'new-password',
            placeholder: connector?.hasPassword ? 'unchanged' : '',
          })}
          {connector?.hasPassword && d.password === '' && <p className="sub">Password unchanged: leave empty to keep the saved one.</p>}
          {field('network', 'Network')}
          <div className="field">
            <label htmlFor="f-source">Source</label>
            <select id="f-source" value={d.source} onChange={(e) => set({ source: e.target.value as Draft['source'] })}>
              <option value="policy-report">Policy Reports (saved reports whose title starts with the prefix)</option>
              <option value="posture">Compliance Posture API (no report schedule needed)</option>
            </select>
            {errs.source && <span className="field-error">Source {errs.source}</span>}
          </div>
          {d.source === 'policy-report'
            ? field('reportTitlePrefix', 'Qualys Report Title Prefix')
            : field('policyIds', 'Policy IDs (comma-separated; empty: every policy the user can see)', { 'aria-invalid': errs.posture ? true : undefined })}
          {d.source === 'posture' && errs.posture && <span className="field-error">Policy IDs {errs.posture}</span>}
        </fieldset>
        {canWrite && <TestCredentials connectorId={connector?.id ?? null} input={d} />}
        <ScheduleEditor draft={d.schedule} onChange={(schedule) => set({ schedule })} disabled={!canWrite} />
        {errs.schedule && <span className="field-error">Schedule {errs.schedule}</span>}
        <fieldset disabled={!canWrite}>
          <legend>Connector Specific Options</legend>
          <label>
            <input type="checkbox" checked={d.autoUrba} onChange={(e) => set({ autoUrba: e.target.checked })} /> Enable auto URBA (close open findings
            of hosts and policies a complete report no longer lists)
          </label>
          <div className="field">
            <label htmlFor="f-urbaThreshold">URBA threshold (fraction of open findings above which URBA stops, e.g. 0.5; empty: default)</label>
            <input id="f-urbaThreshold" inputMode="decimal" value={d.urbaThreshold} onChange={(e) => set({ urbaThreshold: e.target.value })} />
            {errs.urbaThreshold && <span className="field-error">Threshold {errs.urbaThreshold}</span>}
          </div>
          <label>
            <input type="checkbox" checked={d.urbaDryRun} onChange={(e) => set({ urbaDryRun: e.target.checked })} /> Dry run (compute what URBA would
            close, close nothing)
          </label>
          {connector && <UrbaPreview id={connector.id} />}
        </fieldset>
        {canWrite && (
          <div className="actions">
            <button type="submit" disabled={save.isPending}>
              Save
            </button>
          </div>
        )}
        <ErrorBox error={save.error} />
      </form>
      {blocker.state === 'blocked' && (
        <div role="alertdialog" aria-labelledby="leave-title" className="dialog">
          <h2 id="leave-title">Leave without saving?</h2>
          <p>Your changes to this connector are not saved.</p>
          <button type="button" onClick={() => blocker.proceed()}>
            Leave
          </button>
          <button type="button" onClick={() => blocker.reset()}>
            Stay
          </button>
        </div>
      )}
    </>
  );
}

function UrbaPreview({ id }: { id: string }) {
  const [on, setOn] = useState(false);
  const q = useQuery({
    queryKey: ['urba-preview', id],
    queryFn: () =>
      get<{ candidates: number; openBefore: number; threshold: number; wouldStop: boolean; sample: { id: string; hostKey: string; controlId: string; title: string }[] }>(
        `/api/connectors/${encodeURIComponent(id)}/urba/preview`,
      ),
    enabled: on,
  });
  return (
    <div className="urba-preview">
      <button type="button" onClick={() => (on ? q.refetch() : setOn(true))}>
        Preview auto URBA
      </button>
      <ErrorBox error={q.error} />
      {q.data && (
        <div aria-live="polite">
          <p>
            From the last complete report, auto URBA would close {q.data.candidates} of {q.data.openBefore} open findings
            {q.data.wouldStop ? ` — above the threshold ${q.data.threshold}, so it would stop and mark the run for review` : ''}.
          </p>
          {q.data.sample.length > 0 && (
            <ul>
              {q.data.sample.slice(0, 10).map((s) => (
                <li key={s.id}>
                  {s.hostKey} — control {s.controlId} {s.title}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
