/** Delete a connector: confirmed by typing its name; says what goes, and whether hosts/findings stay. */
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { Connector } from '../types.ts';
import { ErrorBox } from './error-box.tsx';

export function DeleteConnector({ connector, onClose }: { connector: Connector; onClose(): void }) {
  const qc = useQueryClient();
  const [typed, setTyped] = useState('');
  const [purge, setPurge] = useState(false);
  const del = useMutation({
    mutationFn: () => api('DELETE', `/api/connectors/${encodeURIComponent(connector.id)}${purge ? '?purge=true' : ''}`),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['connectors'] });
      onClose();
    },
  });
  return (
    <section role="dialog" aria-modal="false" aria-labelledby="del-title" className="dialog">
      <h3 id="del-title">Delete {connector.name}</h3>
      <p>This removes the connector, its saved credentials and its schedule. Its sync history stays readable.</p>
      <fieldset>
        <legend>Hosts and findings of network {connector.network}</legend>
        <label>
          <input type="radio" name="purge" checked={!purge} onChange={() => setPurge(false)} /> Keep them
        </label>
        <label>
          <input type="radio" name="purge" checked={purge} onChange={() => setPurge(true)} /> Purge them (also removes stored report files)
        </label>
      </fieldset>
      <label htmlFor="del-confirm">Type the connector name to confirm</label>
      <input id="del-confirm" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
      <div className="actions">
        <button type="button" className="danger" disabled={typed !== connector.name || del.isPending} onClick={() => del.mutate()}>
          Delete connector
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
      <ErrorBox error={del.error} />
    </section>
  );
}
