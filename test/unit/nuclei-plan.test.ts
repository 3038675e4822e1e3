// The nuclei scan's pure parts: target planning per mode (real Stacktic samples and the
// project's demo metadata), apisix-route.yaml reading, the host map, secret redaction.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ScanError } from '../../lib/errors.ts';
import { dnsModeFromEnv, emptyHostMap, hostMapFromEnv, parseHostMap, resolveTarget } from '../../lib/scan/hosts.ts';
import { isValidNucleiInput, nucleiArgs } from '../../functions/nuclei-scan/nuclei.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { parseYaml, readTextFile } from '../../lib/topology/files.ts';
import { loadApisixRoutes, readApisixDocs } from '../../functions/nuclei-scan/apisix.ts';
import { planTargets, type NucleiMode, type Plan } from '../../functions/nuclei-scan/plan.ts';
import { collectSecrets, redactDeep, REDACTED } from '../../functions/nuclei-scan/secrets.ts';
import { LIGHT_TAGS, TECH_TAGS, techRow } from '../../functions/nuclei-scan/tags.ts';
import { checkTemplatesDir, nucleiSettingsFromEnv } from '../../functions/nuclei-scan/settings.ts';

const ROOT = join(import.meta.dirname, '../..');
const SAMPLES = join(ROOT, '../shared/samples/stacktic');
const DEMO = join(ROOT, 'demo/nuclei');
const TEMPLATES = join(ROOT, 'test/fixtures/nuclei/templates');

async function plan(dir: string, mode: NucleiMode, opts: { apisix?: boolean; map?: string; dns?: 'system' | 'off' } = {}): Promise<Plan> {
  const topo = await loadStackMetadata({ path: join(dir, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
  const apisix = opts.apisix ? await loadApisixRoutes({ path: join(dir, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' }) : undefined;
  return planTargets(topo, mode, { hostMap: parseHostMap(opts.map), dns: opts.dns ?? 'system', routeScheme: 'https', apisix });
}
const rows = (p: Plan) => p.targets.map((t) => `${t.component}/${t.namespace} ${t.url}`).sort();

// ---------------------------------------------------------------- real samples
const samples = suite('nuclei plan: real Stacktic samples');
const LLAMA = join(SAMPLES, 'llama_base');
const STRIMZI = join(SAMPLES, 'strimzi_basic_setup');
const haveLlama = existsSync(join(LLAMA, 'stack-metadata.yaml')) && existsSync(join(LLAMA, 'apisix-route.yaml'));
const haveStrimzi = existsSync(join(STRIMZI, 'stack-metadata.yaml'));
if (!haveLlama)
  console.log(
    `SKIP llama_base sample tests: ${LLAMA}/stack-metadata.yaml or apisix-route.yaml is absent (the shared samples beside the checkout; not part of ` +
      `the repository)`,
  );
if (!haveStrimzi)
  console.log(
    `SKIP strimzi_basic_setup sample tests: ${STRIMZI}/stack-metadata.yaml is absent (the shared samples beside the checkout; not part of the repository)`,
  );

if (haveLlama) {
  samples('llama_base light: the metadata routes plus apisix-route.yaml hosts, all HTTPS (ApisixTls)', async () => {
    const p = await plan(LLAMA, 'light', { apisix: true });
    assert.is(p.protocol, 'http');
    assert.equal(rows(p), ['flowise/flowise https://flowise.my_domain', 'minio/minio https://api.minio.my_domain', 'minio/minio https://minio.my_domain']);
    assert.equal(p.tags, [...LIGHT_TAGS].sort());
    for (const t of p.targets) assert.is(t.input, t.url, 'with DNS allowed and no map, the name is scanned as is');
  });
  samples('llama_base light without apisix-route.yaml: only the metadata routes', async () => {
    const p = await plan(LLAMA, 'light');
    assert.equal(rows(p), ['flowise/flowise https://flowise.my_domain', 'minio/minio https://minio.my_domain']);
  });
  samples('llama_base full: routes plus HTTP Services with per-type tags; TCP types left to network', async () => {
    const p = await plan(LLAMA, 'full', { apisix: true });
    assert.equal(rows(p), [
      'flowise/flowise http://flowise.flowise.svc.cluster.local:3000',
      'flowise/flowise https://flowise.my_domain',
      'llama/llama http://llama.llama.svc.cluster.local:11434',
      'minio/minio http://minio.minio.svc.cluster.local:9000',
      'minio/minio https://api.minio.my_domain',
      'minio/minio https://minio.my_domain',
      'qdrant/qdrant http://qdrant.qdrant.svc.cluster.local:6333',
    ]);
    const minio = p.targets.find((t) => t.url === 'http://minio.minio.svc.cluster.local:9000')!;
    assert.ok(minio.tags.includes('minio') && minio.tags.includes('panel'));
    assert.ok(p.tags.includes('minio'));
    const skipped = new Map(p.skipped.map((s) => [s.component, s.reason]));
    assert.match(skipped.get('cnpg')!, /speaks TCP/);
    assert.match(skipped.get('redis')!, /speaks TCP/);
    assert.match(skipped.get('argo-cd')!, /no port/);
  });
  samples('llama_base network: the database/queue components on their TCP ports', async () => {
    const p = await plan(LLAMA, 'network', { apisix: true });
    assert.is(p.protocol, 'tcp');
    assert.equal(rows(p), ['cnpg/cnpg cnpg.cnpg.svc.cluster.local:5432', 'redis/redis redis.redis.svc.cluster.local:6379']);
    assert.equal(p.tags, ['postgres', 'postgresql', 'redis', 'valkey']);
  });
  samples('llama_base ssl: the HTTPS routes as host:443', async () => {
    const p = await plan(LLAMA, 'ssl', { apisix: true });
    assert.is(p.protocol, 'ssl');
    assert.equal(rows(p), ['flowise/flowise flowise.my_domain:443', 'minio/minio api.minio.my_domain:443', 'minio/minio minio.my_domain:443']);
  });
  samples('llama_base: secrets of components and links are collected, names are not', async () => {
    const ref = { path: join(LLAMA, 'stack-metadata.yaml'), setting: 'STACK_METADATA' };
    const secrets = collectSecrets(parseYaml(await readTextFile(ref), ref).value);
    for (const s of ['MyStrongPass123!', 'MyStrongToken', 'change_secret_key', 'password_default1', 'auth_password']) assert.ok(secrets.includes(s), s);
    assert.ok(
      secrets.some((s) => s.startsWith('hf_')),
      'the huggingface token',
    );
    for (const s of ['flowise', 'minio', 'cert-manager', 'ingress-apisix', '9000']) assert.not.ok(secrets.includes(s), s);
  });
}

if (haveStrimzi) {
  samples('strimzi light and ssl: the minio and bridge routes (no apisix-route.yaml: NUCLEI_ROUTE_SCHEME https)', async () => {
    const light = await plan(STRIMZI, 'light');
    assert.equal(rows(light), ['kafka/strimzi https://bridge.apps.source-lab.io', 'minio/minio https://minio.apps.source-lab.io']);
    const ssl = await plan(STRIMZI, 'ssl');
    assert.equal(rows(ssl), ['kafka/strimzi bridge.apps.source-lab.io:443', 'minio/minio minio.apps.source-lab.io:443']);
  });
  samples('strimzi full: grafana at its upstream default port (noted), minio; tags of both', async () => {
    const p = await plan(STRIMZI, 'full');
    const grafana = p.targets.find((t) => t.component === 'grafana')!;
    assert.is(grafana.url, 'http://grafana.grafana.svc.cluster.local:3000');
    assert.match(grafana.note!, /upstream default 3000/);
    assert.ok(grafana.tags.includes('grafana'));
    assert.ok(p.tags.includes('grafana') && p.tags.includes('minio') && p.tags.includes('kafka'));
    assert.not.ok(p.targets.some((t) => t.component === 'mongodb' || t.component === 'postgresql'));
  });
  samples('strimzi network: postgresql, kafka, mongodb', async () => {
    const p = await plan(STRIMZI, 'network');
    assert.equal(rows(p), [
      'kafka/strimzi kafka.strimzi.svc.cluster.local:9092',
      'mongodb/mongodb mongodb.mongodb.svc.cluster.local:27017',
      'postgresql/postgresql postgresql.postgresql.svc.cluster.local:5432',
    ]);
    assert.equal(p.tags, ['kafka', 'mongodb', 'postgres', 'postgresql']);
  });
}

// ---------------------------------------------------------------- demo metadata
const demo = suite('nuclei plan: the demo stack (demo/nuclei)');
const MAP = JSON.stringify({
  'admin.nuclei-demo.test:80': '127.0.0.1:18080',
  'shop.nuclei-demo.test:443': '127.0.0.1:18443',
  'redis.redis.svc.cluster.local': '127.0.0.2',
});

demo('light: four routes; mapped ones get the loopback address, unmapped ones are unresolved with SCAN_DNS=off', async () => {
  const p = await plan(DEMO, 'light', { apisix: true, map: MAP, dns: 'off' });
  assert.equal(rows(p), [
    'docs/docs http://docs.nuclei-demo.test',
    'legacy/legacy http://legacy.nuclei-demo.test',
    'portal/portal http://admin.nuclei-demo.test',
    'shop/shop https://shop.nuclei-demo.test',
  ]);
  const by = new Map(p.targets.map((t) => [t.component, t]));
  assert.is(by.get('portal')!.input, 'http://127.0.0.1:18080');
  assert.is(by.get('shop')!.input, 'https://127.0.0.1:18443');
  assert.is(by.get('docs')!.input, undefined);
  assert.match(by.get('docs')!.unresolved!, /SCAN_HOST_MAP.*SCAN_DNS=off|not in SCAN_HOST_MAP/);
  assert.equal([...p.inputs.keys()].sort(), ['http://127.0.0.1:18080', 'https://127.0.0.1:18443']);
});
demo('ssl: only the route with an ApisixTls; the plain-HTTP ones are skipped with the reason', async () => {
  const p = await plan(DEMO, 'ssl', { apisix: true, map: MAP, dns: 'off' });
  assert.equal(
    p.targets.map((t) => t.input),
    ['127.0.0.1:18443'],
  );
  assert.equal(p.skipped.map((s) => s.component).sort(), ['docs', 'legacy', 'portal']);
  assert.match(p.skipped[0].reason, /plain HTTP/);
});
demo('network: redis and valkey (sessions) on 6379; the bare-name key keeps the port', async () => {
  const p = await plan(DEMO, 'network', { apisix: true, map: MAP, dns: 'off' });
  assert.equal(rows(p), ['redis/redis redis.redis.svc.cluster.local:6379', 'sessions/sessions sessions.sessions.svc.cluster.local:6379']);
  assert.is(p.targets.find((t) => t.component === 'redis')!.input, '127.0.0.2:6379');
  assert.equal(p.tags, ['redis', 'valkey']);
});
demo('two names mapped to one address become one nuclei input standing for both targets', async () => {
  const p = await plan(DEMO, 'full', {
    apisix: true,
    map: JSON.stringify({ 'docs.nuclei-demo.test:80': '127.0.0.1:19000', 'docs.docs.svc.cluster.local:8080': '127.0.0.1:19000' }),
    dns: 'off',
  });
  assert.equal(p.inputs.get('http://127.0.0.1:19000'), ['route:docs.nuclei-demo.test', 'service:docs/docs:8080']);
});
demo('every planned input is a valid nuclei input (never starts with -)', async () => {
  for (const mode of ['light', 'full', 'network', 'ssl'] as const) {
    const p = await plan(DEMO, mode, { apisix: true, map: MAP, dns: 'system' });
    for (const i of p.inputs.keys()) assert.ok(isValidNucleiInput(i) && !i.startsWith('-'), i);
  }
});
demo('a component named like an Object.prototype key is planned like any other', async () => {
  const topo = await loadStackMetadata({ path: join(DEMO, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
  topo.components.push({ ...topo.components[0], name: 'constructor', type: '__proto__', namespace: 'toString', ports: [8080], attributes: {} });
  const p = planTargets(topo, 'full', { hostMap: emptyHostMap(), dns: 'system', routeScheme: 'https' });
  const t = p.targets.find((x) => x.component === 'constructor')!;
  assert.is(t.url, 'http://constructor.tostring.svc.cluster.local:8080');
  assert.equal(t.tags, [...LIGHT_TAGS]);
  assert.is(techRow('__proto__'), undefined);
  assert.is(techRow('constructor'), undefined);
});
demo('a route host that is not a host name (or starts with -) is skipped, never scanned', async () => {
  const topo = await loadStackMetadata({ path: join(DEMO, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
  topo.routes.push({ host: '-oX.evil', component: 'docs', namespace: 'docs', port: 80 }, { host: 'a b.test', component: 'docs', namespace: 'docs', port: 80 });
  const p = planTargets(topo, 'light', { hostMap: emptyHostMap(), dns: 'system', routeScheme: 'http' });
  assert.not.ok(p.targets.some((t) => t.url.includes('-oX') || t.url.includes(' ')));
  assert.is(p.skipped.filter((s) => /not a valid host name/.test(s.reason)).length, 2);
});

// ---------------------------------------------------------------- apisix, hosts, tags, args
const misc = suite('nuclei scan: apisix-route.yaml, host map, tag table, argv');
misc('apisix docs: route hosts with their upstream Service, TLS hosts', () => {
  const r = readApisixDocs(
    [
      {
        kind: 'ApisixUpstream',
        metadata: { name: 'u', namespace: 'gw' },
        spec: { externalNodes: [{ type: 'Domain', name: 'svc.ns.svc.cluster.local', port: 9001 }] },
      },
      { kind: 'ApisixRoute', metadata: { name: 'r', namespace: 'gw' }, spec: { http: [{ match: { hosts: ['A.example.test'] }, upstreams: [{ name: 'u' }] }] } },
      {
        kind: 'ApisixRoute',
        metadata: { name: 'b', namespace: 'gw' },
        spec: { http: [{ match: { hosts: ['b.example.test'] }, backends: [{ serviceName: 'web', servicePort: 80 }] }] },
      },
      { kind: 'ApisixTls', spec: { hosts: ['a.example.test'] } },
      null,
      'text',
    ],
    'f.yaml',
  );
  assert.equal(r.hosts, [
    { host: 'a.example.test', service: { name: 'svc', namespace: 'ns', port: 9001 } },
    { host: 'b.example.test', service: { name: 'web', namespace: 'gw', port: 80 } },
  ]);
  assert.equal([...r.tlsHosts], ['a.example.test']);
});
misc('apisix-route.yaml with a syntax error: 422 naming the file, line and setting', async () => {
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const d = mkdtempSync(join(tmpdir(), 'stack-scan-nuclei-test-'));
  try {
    writeFileSync(join(d, 'a.yaml'), 'kind: ApisixRoute\nspec:\n  http: [\n');
    const err = await loadApisixRoutes({ path: join(d, 'a.yaml'), setting: 'APISIX_ROUTES' }).catch((e) => e);
    assert.instance(err, ScanError);
    assert.is(err.status, 422);
    assert.is(err.info.setting, 'APISIX_ROUTES');
    assert.ok(err.info.line >= 3);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
misc('host map: names and host:port keys, IP or ip:port values; names as values and bad JSON are 422s naming the setting', () => {
  const m = parseHostMap('{"A.test":"10.0.0.1","a.test:443":"127.0.0.1:8443","v6.test":"[::1]:9000","constructor":"::1"}');
  assert.equal(resolveTarget(m, 'a.test', 80, 'off'), { kind: 'address', host: '10.0.0.1', port: 80, via: 'map' });
  assert.equal(resolveTarget(m, 'a.test', 443, 'off'), { kind: 'address', host: '127.0.0.1', port: 8443, via: 'map' });
  assert.equal(resolveTarget(m, 'v6.test', 1, 'off'), { kind: 'address', host: '::1', port: 9000, via: 'map' });
  assert.equal(resolveTarget(m, 'constructor', 5, 'off'), { kind: 'address', host: '::1', port: 5, via: 'map' });
  assert.equal(resolveTarget(m, '__proto__', 5, 'system'), { kind: 'name', host: '__proto__', port: 5 });
  assert.equal(resolveTarget(m, 'toString', 5, 'off').kind, 'unresolved');
  assert.equal(resolveTarget(m, '-oX.test', 5, 'system').kind, 'unresolved');
  assert.equal(resolveTarget(m, '192.0.2.1', 5, 'off'), { kind: 'address', host: '192.0.2.1', port: 5, via: 'literal' });
  assert.equal(resolveTarget(m, 'other.test', 5, 'system'), { kind: 'name', host: 'other.test', port: 5 });
  assert.is(resolveTarget(m, 'other.test', 5, 'off').kind, 'unresolved');
  for (const bad of ['{"a":"example.com"}', '[1]', '{bad', '{"a":1}', '{"-x y":"1.2.3.4"}', '{"a:99999":"1.2.3.4"}']) {
    try {
      parseHostMap(bad);
      assert.unreachable(bad);
    } catch (e) {
      assert.instance(e, ScanError, bad);
      assert.is((e as ScanError).status, 422);
      assert.is((e as ScanError).info.setting, 'SCAN_HOST_MAP');
    }
  }
  assert.is(hostMapFromEnv({ NETWORK_PROBE_LOCAL_HOSTS: '{"x.test":"1.2.3.4"}' }, ['NETWORK_PROBE_LOCAL_HOSTS']).setting, 'NETWORK_PROBE_LOCAL_HOSTS');
  assert.is(dnsModeFromEnv({}), 'system');
  assert.throws(
    () => dnsModeFromEnv({ SCAN_DNS: 'maybe' }),
    (e: ScanError) => e.info.setting === 'SCAN_DNS',
  );
});
misc('tag table: every type once, every row has tags for what it speaks', () => {
  const seen = new Set<string>();
  for (const r of TECH_TAGS) {
    for (const t of r.types) {
      assert.not.ok(seen.has(t), `type ${t} twice`);
      seen.add(t);
    }
    assert.ok(r.speaks === 'http' ? r.http?.length : r.network?.length, r.types.join());
  }
  for (const t of ['grafana', 'keycloak', 'mongodb', 'cnpg', 'postgresql', 'elasticsearch', 'opensearch', 'rabbitmq', 'minio', 'redis', 'valkey'])
    assert.ok(techRow(t), t);
});
misc('argv: fixed flags, offline (-duc, -ni), exact template list, safety -etags, nothing from a request', () => {
  const o = {
    bin: 'nuclei',
    protocols: ['tcp', 'javascript'],
    templates: ['/t/a.yaml'],
    excludeTags: ['intrusive', 'dos'],
    rateLimit: 10,
    concurrency: 2,
    bulkSize: 3,
    requestTimeoutS: 4,
    retries: 0,
    resolvers: [],
    includeRaw: false,
  };
  const a = nucleiArgs(o, '/w/targets.txt', '/w/templates.txt');
  assert.equal(a.slice(0, 6), ['-l', '/w/targets.txt', '-t', '/w/templates.txt', '-pt', 'tcp,javascript']);
  for (const f of ['-jsonl', '-duc', '-ni', '-ms', '-ot', '-or', '-silent']) assert.ok(a.includes(f), f);
  assert.is(a[a.indexOf('-etags') + 1], 'intrusive,dos');
  assert.not.ok(a.includes('-tags'));
  assert.not.ok(a.includes('-r'));
  const b = nucleiArgs({ ...o, includeRaw: true, interactshUrl: 'https://oast.example.test', resolvers: ['10.96.0.10:53'] }, '/w/l', '/w/t', '/w/r');
  assert.not.ok(b.includes('-or') || b.includes('-ni'));
  assert.is(b[b.indexOf('-r') + 1], '/w/r');
  assert.is(b[b.indexOf('-iserver') + 1], 'https://oast.example.test');
  assert.throws(() => nucleiArgs({ ...o, excludeTags: ['-t /etc'] }, '/w/l', '/w/t'));
  assert.throws(() => nucleiArgs({ ...o, protocols: ['http,code'] }, '/w/l', '/w/t'));
  for (const bad of ['-u', '--help', 'http://a b', 'http://x/;rm', '']) assert.not.ok(isValidNucleiInput(bad), bad);
  for (const good of ['http://127.0.0.1:80', 'https://[::1]:443', 'redis.redis.svc.cluster.local:6379', 'flowise.my_domain:443'])
    assert.ok(isValidNucleiInput(good), good);
});
misc('NUCLEI_TEMPLATES_DIR: unset 503, missing or empty 422, each naming the setting', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const e1 = (() => {
    try {
      checkTemplatesDir(undefined);
    } catch (e) {
      return e as ScanError;
    }
  })()!;
  assert.is(e1.status, 503);
  assert.is(e1.info.setting, 'NUCLEI_TEMPLATES_DIR');
  const e2 = (() => {
    try {
      checkTemplatesDir('/nonexistent/templates');
    } catch (e) {
      return e as ScanError;
    }
  })()!;
  assert.is(e2.status, 422);
  assert.match(e2.message, /does not exist/);
  const d = mkdtempSync(join(tmpdir(), 'stack-scan-nuclei-test-'));
  try {
    const e3 = (() => {
      try {
        checkTemplatesDir(d);
      } catch (e) {
        return e as ScanError;
      }
    })()!;
    assert.is(e3.status, 422);
    assert.match(e3.message, /no nuclei template/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
  assert.is(checkTemplatesDir(TEMPLATES), TEMPLATES);
});
misc('settings: bad numbers and schemes are 422s naming the variable, checked before the templates', () => {
  const cases: [Record<string, string>, string][] = [
    [{ NUCLEI_RATE_LIMIT: '0' }, 'NUCLEI_RATE_LIMIT'],
    [{ NUCLEI_CONCURRENCY: 'lots' }, 'NUCLEI_CONCURRENCY'],
    [{ NUCLEI_REQUEST_TIMEOUT_S: '-1' }, 'NUCLEI_REQUEST_TIMEOUT_S'],
    [{ NUCLEI_ROUTE_SCHEME: 'gopher' }, 'NUCLEI_ROUTE_SCHEME'],
    [{ NUCLEI_INTERACTSH_URL: 'file:///etc/passwd' }, 'NUCLEI_INTERACTSH_URL'],
    [{ SCAN_HOST_MAP: '{"a":"b.example"}' }, 'SCAN_HOST_MAP'],
    [{ SCAN_DNS: 'yes' }, 'SCAN_DNS'],
  ];
  for (const [env, name] of cases) {
    try {
      nucleiSettingsFromEnv(env);
      assert.unreachable(name);
    } catch (e) {
      assert.instance(e, ScanError, name);
      assert.is((e as ScanError).status, 422, name);
      assert.is((e as ScanError).info.setting, name);
    }
  }
  try {
    nucleiSettingsFromEnv({});
    assert.unreachable('no templates dir');
  } catch (e) {
    assert.is((e as ScanError).info.setting, 'NUCLEI_TEMPLATES_DIR');
  }
});
misc('redaction: every string, nested, keys kept, a __proto__ key stays data', () => {
  const input = JSON.parse('{"a":"x Pass-123 y","b":["Pass-123"],"c":{"d":5,"__proto__":"Pass-1234"}}');
  const out = redactDeep(input, ['Pass-1234', 'Pass-123']);
  assert.is(JSON.stringify(out), JSON.stringify({ a: `x ${REDACTED} y`, b: [REDACTED], c: { d: 5 } }).replace('"d":5}', `"d":5,"__proto__":"${REDACTED}"}`));
  assert.is(Object.getPrototypeOf(out), Object.prototype);
});

samples.run();
demo.run();
misc.run();
