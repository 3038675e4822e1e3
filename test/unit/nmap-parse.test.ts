// The nmap XML parser and the mapping back to targets, against real nmap
// output recorded by harness/record-nmap-fixtures.sh. Each <name>.expect.json
// says what the recording script set up (listening / refusing / dropped ports,
// a down host), not what nmap printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  nmapArgs,
  nmapRuns,
  parseNmapXml,
  portList,
  resultsFor,
  type NmapArgsOptions,
  type NmapResult,
  type ProbeTarget,
} from '../../functions/network-scan/nmap/nmap.ts';

const dir = resolve(import.meta.dirname, '../fixtures/nmap');

interface Expect {
  fixture: string;
  description: string;
  nmapOptions: NmapArgsOptions;
  command: string[];
  targets: (ProbeTarget & { expect: 'open' | 'closed' | 'filtered' | 'unknown'; expectReason?: string })[];
}

const names = readdirSync(dir)
  .filter((f) => f.endsWith('.expect.json'))
  .map((f) => f.replace(/\.expect\.json$/, ''))
  .sort();
const load = (name: string) => ({
  xml: readFileSync(join(dir, `${name}.xml`), 'utf8'),
  expect: JSON.parse(readFileSync(join(dir, `${name}.expect.json`), 'utf8')) as Expect,
});
const targetsOf = (e: Expect): ProbeTarget[] => e.targets.map(({ id, host, port, protocol }) => ({ id, host, port, protocol }));
const hostFor = (p: NmapResult, host: string) =>
  /^[\d.:]+$/.test(host)
    ? p.hosts.find((h) => h.address === host && !h.hostnames.some((n) => n.type === 'user'))
    : p.hosts.find((h) => h.hostnames.some((n) => n.type === 'user' && n.name === host));

const s = suite('nmap-parse');

s('every recorded fixture has its expectations', () => {
  const xmls = readdirSync(dir)
    .filter((f) => f.endsWith('.xml'))
    .sort();
  assert.equal(xmls, names.map((n) => `${n}.xml`).sort());
  for (const n of ['open-closed', 'filtered', 'extraports', 'extraports-mixed', 'host-down', 'host-timeout', 'ipv6']) {
    assert.ok(names.includes(n), `fixture ${n} is missing`);
  }
});

for (const name of names) {
  s(`${name}: parsed states and mapped results are the ones set up`, () => {
    const { xml, expect } = load(name);
    const parsed = parseNmapXml(xml);
    assert.is(parsed.finished?.exit, 'success');
    assert.ok(parsed.version, 'nmap version recorded');
    assert.is(parsed.args, expect.command.join(' '), 'args attribute, character references decoded');
    const results = resultsFor(targetsOf(expect), parsed);
    assert.is(results.size, expect.targets.length, 'one result per requested target, none for the cross-product extras');
    for (const t of expect.targets) {
      const r = results.get(t.id);
      const where = `${name} ${t.host}:${t.port}`;
      assert.ok(r, `${where}: no result`);
      assert.is(r!.state, t.expect, `${where}: state (reason ${r!.reason})`);
      if (t.expect === 'unknown') {
        assert.ok(r!.reason.includes(t.expectReason ?? '?'), `${where}: reason ${JSON.stringify(r!.reason)} should mention ${t.expectReason}`);
      } else {
        // The parsed host itself carries the state for that port.
        const h = hostFor(parsed, t.host);
        assert.ok(h, `${where}: host in parsed output`);
        const p = h!.ports.find((x) => x.port === t.port && x.protocol === 'tcp');
        assert.is(p?.state, t.expect, `${where}: parsed port state`);
        assert.is(r!.nmapState, t.expect);
        assert.ok(r!.reason.length > 0);
      }
    }
  });

  s(`${name}: nmapArgs still builds the recorded command`, () => {
    const { expect } = load(name);
    assert.equal(['nmap', ...nmapArgs(targetsOf(expect), expect.nmapOptions)], expect.command);
  });
}

s('open-closed: several hosts, a user-given name, reasons', () => {
  const p = parseNmapXml(load('open-closed').xml);
  assert.is(p.hosts.length, 3);
  assert.equal(
    p.hosts.map((h) => h.address),
    ['127.0.0.1', '127.0.0.2', '127.0.0.1'],
  );
  assert.equal(p.hosts[2].hostnames, [{ name: 'localhost', type: 'user' }]);
  assert.equal(p.scanned, [{ protocol: 'tcp', ports: [9, 8080, 8081, 8443] }]);
  const r = resultsFor(
    [
      { id: 'a', host: '127.0.0.1', port: 8080, protocol: 'TCP' },
      { id: 'b', host: 'LOCALHOST', port: 8081, protocol: 'TCP' },
      { id: 'c', host: '127.0.0.3', port: 8080, protocol: 'TCP' },
      { id: 'd', host: '127.0.0.1', port: 22, protocol: 'TCP' },
    ],
    p,
  );
  assert.equal(r.get('a'), { state: 'open', reason: 'syn-ack', nmapState: 'open' });
  assert.equal(r.get('b'), { state: 'closed', reason: 'conn-refused', nmapState: 'closed' });
  assert.equal(r.get('c'), { state: 'unknown', reason: 'host not in nmap output' });
  assert.equal(r.get('d'), { state: 'unknown', reason: 'port not in nmap output' });
  assert.equal(p.hostCounts, { up: 3, down: 0, total: 3 });
});

s('extraports: folded closed ports come from the <extrareasons ports> list', () => {
  const p = parseNmapXml(load('extraports').xml);
  const h = p.hosts[0];
  assert.is(h.extraports.length, 1);
  assert.is(h.extraports[0].state, 'closed');
  assert.is(h.extraports[0].count, 98);
  assert.is(h.extraports[0].reasons[0].ports?.length, 98);
  assert.is(h.ports.length, 100);
  assert.equal(
    h.ports.find((x) => x.port === 8000),
    { protocol: 'tcp', port: 8000, state: 'closed', reason: 'conn-refused', source: 'extraports' },
  );
  assert.equal(
    h.ports.find((x) => x.port === 8080),
    { protocol: 'tcp', port: 8080, state: 'open', reason: 'syn-ack', source: 'port' },
  );
  assert.equal(
    h.ports.find((x) => x.port === 8090),
    { protocol: 'tcp', port: 8090, state: 'filtered', reason: 'no-response', source: 'port' },
  );
});

// nmap before the ports="" attribute on <extrareasons> only gave counts. There
// is no older nmap here to record with, so these tests take the real 7.93
// output and drop that attribute, in memory.
const withoutPortLists = (xml: string) => xml.replace(/(<extrareasons [^>]*?) ports="[^"]*"/g, '$1');

s('older nmap: one <extraports> group without a port list covers every unlisted scanned port', () => {
  const { xml, expect } = load('extraports');
  const old = withoutPortLists(xml);
  assert.is.not(old, xml);
  const p = parseNmapXml(old);
  assert.is(p.hosts[0].extraports[0].reasons[0].ports, undefined);
  assert.is(p.hosts[0].ports.filter((x) => x.source === 'inferred').length, 98);
  const r = resultsFor(targetsOf(expect), p);
  for (const t of expect.targets) assert.is(r.get(t.id)?.state, t.expect, `${t.port}`);
  // Without <scaninfo> either, resultsFor still infers from the single group.
  const noScaninfo = parseNmapXml(old.replace(/<scaninfo [^>]*\/>/, ''));
  assert.equal(noScaninfo.scanned, []);
  const r2 = resultsFor(targetsOf(expect), noScaninfo);
  for (const t of expect.targets) assert.is(r2.get(t.id)?.state, t.expect, `no scaninfo ${t.port}`);
});

s('older nmap: several <extraports> groups without port lists are ambiguous → unknown', () => {
  const { xml, expect } = load('extraports-mixed');
  const r = resultsFor(targetsOf(expect), parseNmapXml(withoutPortLists(xml)));
  for (const t of expect.targets) {
    const got = r.get(t.id)!;
    if (t.port === 8080) assert.is(got.state, 'open');
    else {
      assert.is(got.state, 'unknown', `${t.port}`);
      assert.match(got.reason, /several <extraports> groups/);
    }
  }
});

s('extraports-mixed: closed and filtered groups both listed', () => {
  const h = parseNmapXml(load('extraports-mixed').xml).hosts[0];
  assert.equal(
    h.extraports.map((e) => [e.state, e.count, e.reasons.map((r) => r.reason)]),
    [
      ['filtered', 40, ['no-response']],
      ['closed', 30, ['conn-refused']],
    ],
  );
});

s('host-down: down host, skipped target, task elements', () => {
  const p = parseNmapXml(load('host-down').xml);
  const down = p.hosts.find((h) => h.address === '198.18.0.2');
  assert.equal(down?.status, { state: 'down', reason: 'no-response' });
  assert.equal(down?.ports, []);
  assert.equal(p.skippedTargets, [{ specification: '198.18.0.9', reason: 'invalid' }]);
  assert.equal(p.hostCounts, { up: 1, down: 1, total: 2 });
  const r = resultsFor([{ id: 'x', host: '198.18.0.2', port: 80, protocol: 'TCP' }], p);
  assert.equal(r.get('x'), { state: 'unknown', reason: 'host down (no-response)' });
});

s('host-timeout: timed-out host has no ports → unknown', () => {
  const p = parseNmapXml(load('host-timeout').xml);
  assert.is(p.hosts[0].timedOut, true);
  assert.equal(p.hosts[0].ports, []);
});

s('ipv6: address forms are matched canonically', () => {
  const p = parseNmapXml(load('ipv6').xml);
  assert.is(p.hosts[0].address, '::1');
  assert.equal(p.hosts[0].addresses, [{ addr: '::1', addrtype: 'ipv6' }]);
  const r = resultsFor(
    [
      { id: 'br', host: '[::1]', port: 8080, protocol: 'TCP' },
      { id: 'long', host: '0:0:0:0:0:0:0:1', port: 8081, protocol: 'TCP' },
    ],
    p,
  );
  assert.is(r.get('br')?.state, 'open');
  assert.is(r.get('long')?.state, 'closed');
});

s('unresolved names come from stderr; error runs mark everything unknown', () => {
  const p = parseNmapXml(load('filtered').xml, { stderr: 'Failed to resolve "db.example.test".\n' });
  assert.equal(p.unresolved, ['db.example.test']);
  const r = resultsFor([{ id: 'n', host: 'db.example.test', port: 5432, protocol: 'TCP' }], p);
  assert.equal(r.get('n'), { state: 'unknown', reason: 'unresolved: nmap failed to resolve db.example.test' });

  const failed: NmapResult = { ...p, hosts: [], finished: { exit: 'error', errormsg: 'boom' } };
  assert.equal(resultsFor([{ id: 'm', host: '127.0.0.1', port: 1, protocol: 'TCP' }], failed).get('m'), {
    state: 'unknown',
    reason: 'nmap error: boom',
  });
});

s('truncated or foreign XML is rejected', () => {
  const xml = load('open-closed').xml;
  assert.throws(() => parseNmapXml(xml.slice(0, Math.floor(xml.length / 2))), /not well-formed/);
  assert.throws(() => parseNmapXml('<?xml version="1.0"?><other/>'), /no <nmaprun>/);
  assert.throws(() => parseNmapXml(''), /not well-formed|no <nmaprun>/);
});

s('nmapArgs: one connect scan, explicit timeouts, union of ports, hosts deduplicated', () => {
  const t = (id: string, host: string, port: number): ProbeTarget => ({ id, host, port, protocol: 'TCP' });
  const args = nmapArgs([t('1', '10.1.2.3', 443), t('2', 'svc.ns.svc.cluster.local', 80), t('3', '10.1.2.3', 81), t('4', '10.1.2.3', 82)], {
    hostTimeoutMs: 5000,
    connectTimeoutMs: 750,
  });
  assert.equal(args, [
    '-sT',
    '-Pn',
    '-n',
    '--reason',
    '--max-retries',
    '1',
    '--initial-rtt-timeout',
    '750ms',
    '--max-rtt-timeout',
    '750ms',
    '--host-timeout',
    '5000ms',
    '-p',
    '80-82,443',
    '-oX',
    '-',
    '10.1.2.3',
    'svc.ns.svc.cluster.local',
  ]);
  assert.is(portList([5, 3, 4, 1, 65535, 3]), '1,3-5,65535');
});

s('nmapArgs: families are not mixed; nmapRuns splits them', () => {
  const v4: ProbeTarget = { id: 'a', host: '127.0.0.1', port: 1, protocol: 'TCP' };
  const v6: ProbeTarget = { id: 'b', host: '[::1]', port: 2, protocol: 'TCP' };
  assert.throws(() => nmapArgs([v4, v6], { hostTimeoutMs: 1000 }), /cannot be mixed/);
  const runs = nmapRuns([v6, v4], { hostTimeoutMs: 1000 });
  assert.equal(
    runs.map((r) => r.family),
    [4, 6],
  );
  assert.ok(runs[1].args.includes('-6'));
  assert.is(runs[1].args.at(-1), '::1');
  assert.not.ok(runs[0].args.includes('-6'));
});

s('nmapArgs: refuses hosts nmap would read as options, ranges, lists or CIDR blocks', () => {
  for (const host of ['-iL', '--script=x', '10.0.0.1-5', '10.0.0.0/8', 'a,b', 'a b', '10.0.0.*', '', 'fe80::1%eth0']) {
    assert.throws(() => nmapArgs([{ id: 'x', host, port: 1, protocol: 'TCP' }], { hostTimeoutMs: 1000 }), /nmap target host/, host);
  }
  assert.throws(() => nmapArgs([{ id: 'x', host: 'a', port: 0, protocol: 'TCP' }], { hostTimeoutMs: 1000 }), /invalid port/);
  assert.throws(() => nmapArgs([{ id: 'x', host: 'a', port: 1, protocol: 'UDP' as 'TCP' }], { hostTimeoutMs: 1000 }), /TCP only/);
  assert.throws(() => nmapArgs([], { hostTimeoutMs: 1000 }), /no targets/);
  assert.throws(() => nmapArgs([{ id: 'x', host: 'a', port: 1, protocol: 'TCP' }], { hostTimeoutMs: 0 }), /hostTimeoutMs/);
});

s.run();
