/** `npm run bench`: every benchmark, each with its baseline measured in the same run. */
import { main as engine } from './network-engine.ts';
import { main as nmap } from './nmap-local.ts';
import { main as opa } from './opa-full.ts';
import { main as networkLight } from './network-light.ts';

console.log('== network policy engine (1,000 policies, 100 namespaces, full link matrix; target < 1 s)');
engine();
console.log('\n== local nmap runner (200 probes on loopback vs one bare nmap; target ≤ 1.3×)');
await nmap();
console.log('\n== OPA full mode against the real Gatekeeper (targets: demo < 3 s; replay ≤ 1.5× generators per dry-run)');
await opa();
console.log('\n== network light mode at scale (100 namespaces, 1,000 links, 2,600 policies vs a bare LIST; target ≤ 1.3×)');
await networkLight();
console.log('\n== storing results as OpenReports: network light on the demo stack, storing on vs off (target ≤ 1.2×)');
await (await import('./reports.ts')).main();
console.log('\n== kubescape light: strategies vs the seed (one run per namespace, one after another; target ≤ 0.6×, identical scores)');
await (await import('./kubescape.ts')).main();
console.log('\n== nuclei light through the scan vs bare nuclei, same targets and templates (target ≤ 1.2×)');
await (await import('./nuclei.ts')).main();
console.log('\n== network full on the real node: wall time vs the slowest single source (target ≤ 1.5×; needs root)');
await (await import('./network-node.ts')).main();
console.log('\n== cold start: each bundled function vs its tsx entry (targets: ≤ 150 ms to /healthz, ≤ 70 MB after one light scan)');
await (await import('./cold-start.ts')).main();
console.log('\n== stack-scan network --offline on the strimzi sample, whole process cold (target < 1 s; ratio vs node -e 0)');
await (await import('./cli-offline.ts')).main();
