/**
 * The layout the list pages share: filters kept in the URL, a filter form, then the rows (loading,
 * error, empty, table) and the pager.
 */
import type { ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { ErrorBox, Loading } from './error-box.tsx';
import { Pager } from './pager.tsx';

/** The filters named by `keys` as they are in the URL; setting one drops `resets` (e.g. a selection). */
export function useUrlFilters(keys: readonly string[], resets: readonly string[] = []) {
  const [params, setParams] = useSearchParams();
  const filters: Record<string, string> = {};
  for (const k of keys) {
    const v = params.get(k);
    if (v) filters[k] = v;
  }
  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    for (const r of resets) next.delete(r);
    setParams(next);
  };
  return { params, setParams, filters, setFilter };
}

export function FilterForm({ label, children }: { label: string; children: ReactNode }) {
  return (
    <form className="filters" aria-label={label} onSubmit={(e) => e.preventDefault()}>
      {children}
    </form>
  );
}

export function ListBody(props: {
  what: string;
  pending: boolean;
  error: unknown;
  /** null while loading */
  count: number | null;
  emptyText: string;
  page: number;
  next: string | null | undefined;
  onNext(c: string): void;
  onPrev(): void;
  children: ReactNode;
}) {
  return (
    <>
      {props.pending && <Loading what={props.what} />}
      <ErrorBox error={props.error} />
      {props.count === 0 && <p>{props.emptyText}</p>}
      {props.count !== null && props.count > 0 && props.children}
      <Pager page={props.page} next={props.next} onNext={props.onNext} onPrev={props.onPrev} />
    </>
  );
}
