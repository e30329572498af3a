#!/usr/bin/env node
// Entry point for `npx taskyard`: runs the TypeScript CLI through tsx's loader.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('tsx/esm', pathToFileURL('./'));
await import('../src/cli/main.ts');
