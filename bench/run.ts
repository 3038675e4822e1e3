/**
 * `npm run bench`: every benchmark, each with its baseline measured in the same run. A bench that
 * fails is named with its error and the others still run; the run then exits 1 with the list.
 */
/** Each bench's title (its target) and module; every module exports `main()`. */
const benches: [title: string, module: string][] = [
  ['network policy engine (1,000 policies, 100 namespaces, full link matrix; target < 1 s)', './network-engine.ts'],
  ['local nmap runner (200 probes on loopback vs one bare nmap; target ≤ 1.3×)', './nmap-local.ts'],
  ['OPA full mode against the real Gatekeeper (targets: demo < 3 s; replay ≤ 1.5× generators per dry-run)', './opa-full.ts'],
  ['network light mode at scale (100 namespaces, 1,000 links, 2,600 policies vs a bare LIST; target ≤ 1.3×)', './network-light.ts'],
  ['storing results as OpenReports: network light on the demo stack, storing on vs off (target ≤ 1.2×)', './reports.ts'],
  ['kubescape light: strategies vs the seed (one run per namespace, one after another; target ≤ 0.6×, identical scores)', './kubescape.ts'],
  ['nuclei light through the scan vs bare nuclei, same targets and templates (target ≤ 1.2×)', './nuclei.ts'],
  ['network full on the real node: wall time vs the slowest single source (target ≤ 1.5×; needs root)', './network-node.ts'],
  [
    'hostile input files: longest event-loop stall of the bundled server during all four scans (target ≤ 100 ms, /healthz answered throughout)',
    './event-loop.ts',
  ],
  ['request body limit: RSS growth of a real server under a 100 MB chunked CloudEvent (target ≤ 20 MB)', './body-limit.ts'],
  ['cold start: each bundled function vs its tsx entry (targets: ≤ 150 ms to /healthz, ≤ 70 MB after one light scan)', './cold-start.ts'],
  ['stack-scan network --offline on the strimzi sample, whole process cold (target < 1 s; ratio vs node -e 0)', './cli-offline.ts'],
];

const failed: string[] = [];
for (const [i, [title, module]] of benches.entries()) {
  console.log(`${i ? '\n' : ''}== ${title}`);
  try {
    await (await import(module)).main();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.log(`FAILED: ${message.split('\n')[0]}`);
    failed.push(`${title.split(' (')[0]}: ${message.split('\n')[0]}`);
  }
}
if (failed.length) {
  console.log(`\n${failed.length} of ${benches.length} benches failed (the others ran):`);
  for (const f of failed) console.log(`  - ${f}`);
  process.exitCode = 1;
}
