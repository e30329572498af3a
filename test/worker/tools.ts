import { existsSync } from 'node:fs';

/**
 * Whether an external tool can be used. When TASKYARD_REQUIRE_TOOLS names it and it is missing,
 * this throws, so the test fails instead of skipping.
 */
export function toolAvailable(name: string, path: string): boolean {
  if (existsSync(path)) return true;
  const required = (process.env.TASKYARD_REQUIRE_TOOLS ?? '').split(/\s+/).includes(name);
  if (required) throw new Error(`${name} is required (TASKYARD_REQUIRE_TOOLS) but ${path} does not exist`);
  return false;
}
