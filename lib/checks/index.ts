export * from './config.ts';
export * from './connection.ts';
export * from './freshness.ts';
export * from './ledger.ts';
export * from './rowCounts.ts';
export * from './runChecks.ts';
export * from './sql.ts';
export * from './types.ts';
