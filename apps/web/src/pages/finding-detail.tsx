/** Host Finding Detail: technology, control, policy, severity; Observations; Output; status history. */
import { Link, useParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { get } from '../api.ts';
import type { FindingDetail } from '../types.ts';
import { ErrorBox, Loading } from '../components/error-box.tsx';
import { when } from '../format.ts';
import { createColumnHelper } from '@tanstack/react-table';
import { DataTable } from '../components/data-table.tsx';

const hc = createColumnHelper<FindingDetail['history'][number]>();
const HISTORY_COLUMNS = [
  hc.accessor('at', { header: 'When', cell: (c) => when(c.getValue()) }),
  hc.display({ id: 'change', header: 'Change', cell: ({ row: { original: h } }) => `${h.from ?? 'new'} → ${h.to}` }),
  hc.accessor('reason', { header: 'Reason' }),
  hc.accessor('runId', { header: 'Run' }),
];

export function FindingDetailPage() {
  const { id = '' } = useParams();
  const q = useQuery({ queryKey: ['finding', id], queryFn: () => get<FindingDetail>(`/api/findings/${encodeURIComponent(id)}`) });
  const f = q.data;
  return (
    <>
      <p>
        <Link to="/findings">← Host Findings</Link>
      </p>
      <h1>Host Finding Detail</h1>
      {q.isPending && <Loading what="finding" />}
      <ErrorBox error={q.error} />
      {f && (
        <>
          <section aria-labelledby="fd-top">
            <h2 id="fd-top">
              Control {f.controlId}: {f.title ?? ''}
            </h2>
            <dl className="grid">
              <dt>Technology</dt>
              <dd>{f.technology ?? '—'}</dd>
              <dt>Control</dt>
              <dd>
                {f.controlId} {f.title ?? ''}
              </dd>
              <dt>Policy</dt>
              <dd>
                {f.policyTitle ?? f.policyId} ({f.policyId})
              </dd>
              <dt>Severity</dt>
              <dd>{f.severity ?? 'Not set'}</dd>
              <dt>Host</dt>
              <dd>
                {f.ip ?? '—'} {f.hostname ?? ''} ({f.network})
              </dd>
              <dt>Status</dt>
              <dd>{f.status}</dd>
            </dl>
          </section>
          <section aria-labelledby="fd-obs">
            <h2 id="fd-obs">Observations</h2>
            <dl className="grid">
              <dt>Test Status</dt>
              <dd>{f.observations.testStatus}</dd>
              <dt>Evaluated</dt>
              <dd>{f.observations.evaluationDate ?? '—'}</dd>
              <dt>Instance</dt>
              <dd>{f.instance ?? '—'}</dd>
            </dl>
          </section>
          <section aria-labelledby="fd-out">
            <h2 id="fd-out">Output</h2>
            <h3>Expected</h3>
            <pre>{f.output.expected ?? '—'}</pre>
            <h3>Actual</h3>
            <pre>{f.output.actual ?? '—'}</pre>
          </section>
          <section aria-labelledby="fd-hist">
            <h2 id="fd-hist">History</h2>
            <p>First seen {when(f.firstSeen)}.</p>
            <DataTable label="Status history" columns={HISTORY_COLUMNS} data={f.history} rowId={(_h, i) => String(i)} wrap={false} />
          </section>
        </>
      )}
    </>
  );
}
