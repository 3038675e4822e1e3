/**
 * Writes schema/networkpolicy-manifest.schema.json from the valibot schema in
 * lib/topology/expected.ts, so both always agree (a unit test checks it).
 * Usage: npx tsx schema/gen-schema.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJsonSchema } from '@valibot/to-json-schema';
import { ManifestSchema } from '../lib/topology/expected.ts';

export const SCHEMA_PATH = join(import.meta.dirname, '..', 'schema', 'networkpolicy-manifest.schema.json');

export function manifestJsonSchema(): string {
  // The two cross-field rules (valibot `check`) cannot be expressed by the
  // converter; they are stated in the description and enforced by the loader.
  const schema = toJsonSchema(ManifestSchema, { errorMode: 'ignore' });
  return `${JSON.stringify(
    {
      ...schema,
      $id: 'https://stack-scan.local/schema/networkpolicy-manifest.schema.json',
      title: 'stack-scan networkpolicy-manifest.json',
      description:
        'Every NetworkPolicy a stack is expected to have. A default-deny policy has no peer; every other category needs one. `link` is required for ' +
        'category "link" and only allowed there. `ports: []` (the default) means all ports; a port without protocol is TCP.',
    },
    null,
    2,
  )}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = manifestJsonSchema();
  if (process.argv.includes('--check')) {
    if (readFileSync(SCHEMA_PATH, 'utf8') !== text) {
      console.error(`${SCHEMA_PATH} is out of date: run npx tsx schema/gen-schema.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_PATH, text);
    console.log(`wrote ${SCHEMA_PATH}`);
  }
}
