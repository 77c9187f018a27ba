/** @qpc/store/inventory: Inventory: hosts, findings and URBA, as a run writes them (batches, staged changes, host identity) and finalizes them. */
export * from './inventory/host-identity.ts';
export * from './inventory/write-batch.ts';
export * from './inventory/finding-state.ts';
export * from './inventory/content-hash.ts';
export * from './inventory/staged-changes.ts';
export * from './inventory/apply-changes.ts';
export * from './inventory/rewrite-docs.ts';
export * from './inventory/insert-new.ts';
export * from './inventory/keyed-update.ts';
export * from './inventory/finalize-run.ts';
export * from './inventory/carry-fields.ts';
export * from './inventory/known-scopes.ts';
