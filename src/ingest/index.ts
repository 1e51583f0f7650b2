export { validateRow, type WritePolicy, type WriteRow, type ValidatedRow } from './rows.js';
export { writeRows, type WriteOptions } from './writer.js';
