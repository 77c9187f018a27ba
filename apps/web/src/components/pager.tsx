/** Cursor paging: the API answers `next`; the pages walked so far are kept to go back. */
import { useState } from 'react';

export function usePager(resetKey: string) {
  const [state, setState] = useState<{ key: string; stack: (string | undefined)[] }>({ key: resetKey, stack: [undefined] });
  const stack = state.key === resetKey ? state.stack : [undefined];
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (c: string) => setState({ key: resetKey, stack: [...stack, c] }),
    prev: () => setState({ key: resetKey, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
  };
}

export function Pager({ page, next, onNext, onPrev }: { page: number; next: string | null | undefined; onNext(c: string): void; onPrev(): void }) {
  return (
    <nav aria-label="Pages" className="pager">
      <button type="button" onClick={onPrev} disabled={page <= 1}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" onClick={() => next && onNext(next)} disabled={!next}>
        Next page
      </button>
    </nav>
  );
}
