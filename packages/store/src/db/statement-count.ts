/**
 * Statements sent to the findings collection by this process, per command, from the driver's command
 * monitoring: on FerretDB 1.24 a sync's cost is (statements) x (collection size), so this is the figure a
 * re-sync is judged by (the resync bench reads it from the write worker's "run finalized" log line).
 */
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, MongoClient } from 'mongodb';

export type StatementCounts = Record<string, number>;

const TARGETS = ['insert', 'update', 'delete', 'find', 'aggregate', 'count', 'findAndModify'];

/** Counts the statements `client` sends to `collection` from now on (the client needs monitorCommands). */
export function countStatements(client: MongoClient, collection = 'findings'): StatementCounts {
  const counts: StatementCounts = {};
  client.on('commandStarted', (e: CommandStartedEvent) => {
    // getMore continues a find: counted apart (a streaming read is one statement and many getMores)
    const target = e.commandName === 'getMore' ? e.command.collection : e.command[e.commandName];
    if (target !== collection || (!TARGETS.includes(e.commandName) && e.commandName !== 'getMore')) return;
    counts[e.commandName] = (counts[e.commandName] ?? 0) + 1;
  });
  return counts;
}

/** Per `collection.command`: statements and the milliseconds the server took for them (a profile of where a run's time goes). */
export type StatementTimes = Record<string, { n: number; ms: number }>;

/** Times every command `client` sends from now on, by collection and command (the client needs monitorCommands). */
export function timeStatements(client: MongoClient): StatementTimes {
  const times: StatementTimes = {};
  const started = new Map<number, string>();
  client.on('commandStarted', (e: CommandStartedEvent) => {
    const target = e.commandName === 'getMore' ? e.command.collection : e.command[e.commandName];
    if (typeof target === 'string') started.set(e.requestId, `${target}.${e.commandName}`);
  });
  const end = (e: CommandSucceededEvent | CommandFailedEvent) => {
    const key = started.get(e.requestId);
    if (key === undefined) return;
    started.delete(e.requestId);
    const t = (times[key] ??= { n: 0, ms: 0 });
    t.n++;
    t.ms += e.duration;
  };
  client.on('commandSucceeded', end);
  client.on('commandFailed', end);
  return times;
}
