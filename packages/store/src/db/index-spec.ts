/** An index to create at start: collection, key, options. */
export interface IndexSpec {
  collection: string;
  key: Record<string, 1 | -1>;
  name: string;
  unique?: boolean;
  /** seconds; a TTL index (single date field) */
  expireAfterSeconds?: number;
}
