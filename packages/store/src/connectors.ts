/** @qpc/store/connectors: Connectors: their documents, credentials and settings. */
export * from './connectors.repository.ts';
