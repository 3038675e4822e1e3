/**
 * Writes demo/stack/networkpolicy/: the NetworkPolicies Stacktic's generator
 * writes for demo/stack/stack-metadata.yaml, by the derivation table
 * (lib/topology/stacktic-rules.ts), in Stacktic's file layout:
 * `networkpolicy__<system>__<policy name with -- as __>__nr<N>__lines<L>.yaml`.
 *
 *   npx tsx demo/stack/generate.ts          rewrite the folder
 *   npx tsx demo/stack/generate.ts --check  exit 1 when the folder differs (a unit test runs this check too)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { renderPolicy, renderYaml } from '../../lib/topology/render.ts';

export const DEMO_STACK = import.meta.dirname;
export const DEMO_METADATA = join(DEMO_STACK, 'stack-metadata.yaml');
export const DEMO_POLICIES = join(DEMO_STACK, 'networkpolicy');

/** File name → content, as the generator would write them. */
export async function demoPolicyFiles(): Promise<Map<string, string>> {
  const topo = await loadStackMetadata({ path: DEMO_METADATA, setting: 'STACK_METADATA' });
  const stack = new Set(topo.namespaces);
  const out = new Map<string, string>();
  deriveExpected(topo, DEMO_METADATA).policies.forEach((e, i) => {
    const name = `${e.name}--nr${i}`;
    const text = renderYaml(renderPolicy(e, stack, name));
    const lines = text.split('\n').length;
    out.set(`networkpolicy__${topo.stack}__${name.replace(/--/g, '__')}__lines${lines}.yaml`, text);
  });
  return out;
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const files = await demoPolicyFiles();
  if (process.argv.includes('--check')) {
    const have = readdirSync(DEMO_POLICIES).sort();
    const same = have.length === files.size && have.every((f) => files.get(f) === readFileSync(join(DEMO_POLICIES, f), 'utf8'));
    console.log(
      same ? `${DEMO_POLICIES}: ${files.size} files, up to date` : `${DEMO_POLICIES} differs from the derivation; run npx tsx demo/stack/generate.ts`,
    );
    process.exitCode = same ? 0 : 1;
  } else {
    rmSync(DEMO_POLICIES, { recursive: true, force: true });
    mkdirSync(DEMO_POLICIES);
    for (const [f, text] of files) writeFileSync(join(DEMO_POLICIES, f), text);
    console.log(`wrote ${files.size} files to ${DEMO_POLICIES}`);
  }
}
