/** `npm run bench`: every benchmark, each with its baseline measured in the same run. */
import { main as engine } from './network-engine.ts';
import { main as nmap } from './nmap-local.ts';
import { main as opa } from './opa-full.ts';

console.log('== network policy engine (1,000 policies, 100 namespaces, full link matrix; target < 1 s)');
engine();
console.log('\n== local nmap runner (200 probes on loopback vs one bare nmap; target ≤ 1.3×)');
await nmap();
console.log('\n== OPA full mode against the real Gatekeeper (target: 12 constraints < 3 s)');
await opa();
