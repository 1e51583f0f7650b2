#!/usr/bin/env node
// Runs the compiled CLI (`npm ci` builds it through the `prepare` script).
import { main } from '../dist/cli/main.js';

await main(process.argv);
