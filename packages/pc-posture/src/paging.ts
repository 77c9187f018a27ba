/** The paging WARNING of a posture answer: the next page starts at the `id_min` of its URL. */

/** the id_min parameter of a paging URL (absolute, relative or a bare query) */
export function idMinOf(url: string | null): string | null {
  if (!url) return null;
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? url : url.slice(q + 1));
  const v = params.get('id_min');
  return v && v.trim() ? v.trim() : null;
}
