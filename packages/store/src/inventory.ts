/** @qpc/store/inventory: Inventory: hosts, findings and URBA, as a run writes them (batches, staged changes, host identity) and finalizes them. */
export * from './host-identity.ts';
export * from './write-batch.ts';
export * from './finding-state.ts';
export * from './content-hash.ts';
export * from './staged-changes.ts';
export * from './apply-changes.ts';
export * from './rewrite-docs.ts';
export * from './insert-new.ts';
export * from './keyed-update.ts';
export * from './finalize-run.ts';
