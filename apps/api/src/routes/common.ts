import { z } from 'zod';

/** A count in a query string: digits only (z.coerce took "0x10", "1e2" and " 5"), from 1 to max. */
export const countParam = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]{1,6}$/, 'must be a whole number written in digits only')
    .optional()
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .pipe(z.number().int().min(1).max(max))
    .describe(`1 to ${max} (default ${fallback})`);

export const pageQuery = z.object({
  cursor: z.string().max(2000).optional(),
  limit: countParam(500, 50),
});
