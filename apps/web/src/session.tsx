/**
 * The cookie session: GET /api/session says who is signed in; the token typed on the sign-in page
 * goes once to POST /api/session and is never kept by the browser (no storage, no state after use).
 */
import { createContext, useContext, useState, type FormEvent, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError } from './api.ts';
import type { Role } from './types.ts';
import { ErrorBox, Loading } from './components/error-box.tsx';

interface Session {
  role: Role;
  signOut(): void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionGate');
  return s;
}

/** true when the signed-in user may change things (viewers see no write control) */
export const useCanWrite = () => useSession().role === 'admin';

export function SessionGate({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const session = useQuery({
    queryKey: ['session'],
    queryFn: async () => {
      try {
        return await api<{ role: Role }>('GET', '/api/session');
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    staleTime: Infinity,
  });
  const signOut = useMutation({
    mutationFn: () => api('DELETE', '/api/session'),
    onSettled: () => {
      qc.clear();
      qc.setQueryData(['session'], null);
    },
  });
  if (session.isPending) return <Loading what="session" />;
  if (session.isError) return <ErrorBox error={session.error} />;
  if (!session.data) return <SignIn />;
  return <SessionContext.Provider value={{ role: session.data.role, signOut: () => signOut.mutate() }}>{children}</SessionContext.Provider>;
}

function SignIn() {
  const qc = useQueryClient();
  const [token, setToken] = useState('');
  const signIn = useMutation({
    mutationFn: (t: string) => api<{ role: Role }>('POST', '/api/session', { token: t }),
    onSuccess: (data) => {
      setToken('');
      qc.setQueryData(['session'], data);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate(token);
  };
  return (
    <main className="signin">
      <h1>Qualys Policy Compliance Connector</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <h2>Sign in</h2>
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} required />
        <p className="hint">Use the admin token (QPC_API_TOKEN) or a viewer token (QPC_VIEWER_TOKENS).</p>
        <button type="submit" disabled={signIn.isPending || token === ''}>
          Sign in
        </button>
        <ErrorBox error={signIn.error} />
      </form>
    </main>
  );
}
