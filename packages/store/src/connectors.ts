/** @qpc/store/connectors: Connectors: their documents, credentials and settings. */
export * from './connectors/connectors.repository.ts';
