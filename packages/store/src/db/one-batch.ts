/**
 * A find's first batch is 101 documents unless told otherwise; the rest comes by getMore while the server
 * keeps a cursor open. On FerretDB 1.24 (SQLite backend) an open cursor holds its database's connection and
 * other requests on that database queue behind it, so every find whose result is drained at once asks for
 * it in one batch and leaves no cursor behind.
 */
export const ONE_BATCH = 1_000_000;
