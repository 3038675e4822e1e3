// Issue 19 item 9: hosts in numeric notations other than dotted-quad IPv4 and IPv6 literals
// (0x7f000001, 2130706433, 0177.0.0.1, 127.1, 1.0x7f000001, all digits and dots) are refused
// everywhere a host is read: NETWORK_PROBE_EXTERNAL_TARGET, nmap targets, SCAN_HOST_MAP keys,
// and host resolution for nuclei. Real names and the two literals still pass.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ScanError } from '../../lib/errors.ts';
import { emptyHostMap, isHostName, parseHostMap, resolveTarget } from '../../lib/scan/hosts.ts';
import { isNumericHostForm } from '../../lib/scan/hosts.ts';
import { normalizeHost } from '../../functions/network-scan/nmap/hosts.ts';
import { fullSettingsFromEnv } from '../../functions/network-scan/settings.ts';

const s = suite('hosts: numeric notations refused');
const NUMERIC = [
  '0x7f000001',
  '0X7F000001',
  '2130706433',
  '0177.0.0.1',
  '127.1',
  '127.0.1',
  '1.0x7f000001',
  '0x7f.0x0.0x0.0x1',
  '1.2.3.4.',
  '10.0.0.1.5',
  '017700000001',
  'example.0x10',
  'svc.123',
];
const NAMES = ['example.com', 'redis.redis.svc.cluster.local', 'flowise.example.com.', 'a0x1.example', '0xdeadbeef.example.com', 'host-1', 'x123'];
const LITERALS = ['127.0.0.1', '::1', '[::1]', '10.1.2.3', 'fe80::1'];

s('the notations are recognised; names and literals are not', () => {
  for (const h of NUMERIC) assert.ok(isNumericHostForm(h), h);
  for (const h of [...NAMES, ...LITERALS]) assert.not.ok(isNumericHostForm(h), h);
});

s('NETWORK_PROBE_EXTERNAL_TARGET: 422 naming the setting for every numeric notation', () => {
  for (const h of NUMERIC) {
    assert.throws(
      () => fullSettingsFromEnv({ NETWORK_PROBE_EXTERNAL_TARGET: h }),
      (e: ScanError) =>
        e instanceof ScanError && e.status === 422 && e.info.setting === 'NETWORK_PROBE_EXTERNAL_TARGET' && /dotted-quad|IP address/.test(e.message),
      h,
    );
  }
  assert.is(fullSettingsFromEnv({ NETWORK_PROBE_EXTERNAL_TARGET: '127.0.0.1' }).externalTarget, '127.0.0.1');
  assert.is(fullSettingsFromEnv({ NETWORK_PROBE_EXTERNAL_TARGET: 'example.com' }).externalTarget, 'example.com');
});

s('nmap targets: refused before nmap sees them', () => {
  for (const h of NUMERIC) assert.throws(() => normalizeHost(h), /numeric address notation|neither an IP/, h);
  for (const h of NAMES) assert.ok(normalizeHost(h).isName, h);
});

s('SCAN_HOST_MAP keys and name resolution: numeric notations are not names', () => {
  for (const h of NUMERIC) {
    assert.not.ok(isHostName(h), h);
    assert.throws(
      () => parseHostMap(JSON.stringify({ [h]: '127.0.0.1' })),
      (e: ScanError) => e.info.setting === 'SCAN_HOST_MAP',
      h,
    );
    // resolveTarget drops a trailing dot first: `1.2.3.4.` is then the literal 1.2.3.4, an address either way.
    const r = resolveTarget(emptyHostMap(), h, 80, 'system');
    assert.is(r.kind, h === '1.2.3.4.' ? 'address' : 'unresolved', h);
  }
  for (const h of NAMES) assert.is(resolveTarget(emptyHostMap(), h, 80, 'system').kind, 'name', h);
  for (const h of LITERALS) assert.is(resolveTarget(emptyHostMap(), h, 80, 'off').kind, 'address', h);
});

s.run();
