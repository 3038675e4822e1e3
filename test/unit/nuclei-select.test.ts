// The tag table and the template selection checked against the REAL community templates
// (../shared/nuclei-templates: 60 unmodified nuclei-templates files): for every component
// type the seed names and for the light, full, network and ssl modes, exactly the templates
// it should pick, none it should not (no grafana CVE against minio), the production-safety
// exclusions with their reasons, and the catalog reader itself. Skips with the reason
// when ../shared is absent.
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHostMap } from '../../lib/scan/hosts.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { loadApisixRoutes } from '../../functions/nuclei-scan/apisix.ts';
import { planTargets, type NucleiMode } from '../../functions/nuclei-scan/plan.ts';
import { ALL_TECH_TAGS, DEFAULT_EXCLUDED_TAGS, groupPlan, selectorFor, selectTemplates, unionOf, type Policy } from '../../functions/nuclei-scan/select.ts';
import { loadCatalog, loadCatalogUncached, readIgnore, readTemplate, type Catalog } from '../../functions/nuclei-scan/templates.ts';
import { falsePositiveRule } from '../../functions/nuclei-scan/false-positives.ts';

const ROOT = join(import.meta.dirname, '../..');
const SHARED = join(ROOT, '../shared/nuclei-templates');
const COMMUNITY = join(ROOT, 'test/fixtures/nuclei/community');
const SAFE: Policy = { allowTags: new Set(), interactsh: false };

const ids = (c: Catalog, mode: NucleiMode, type: string, policy = SAFE, kind: 'route' | 'service' = 'service') =>
  selectTemplates(c, selectorFor(mode, type, kind), policy)
    .templates.map((t) => t.id)
    .sort();
const excludedIds = (c: Catalog, mode: NucleiMode, type: string, policy = SAFE, kind: 'route' | 'service' = 'service') =>
  selectTemplates(c, selectorFor(mode, type, kind), policy)
    .excluded.map((e) => `${e.template_id}:${e.code}`)
    .sort();

const GENERIC_HTTP = ['apisix-default-login', 'git-config', 'laravel-env', 'phpinfo-files'];
const SSL_ALL = [
  'deprecated-tls',
  'expired-ssl',
  'insecure-cipher-suite-detect',
  'kubernetes-fake-certificate',
  'mismatched-ssl-certificate',
  'revoked-ssl-certificate',
  'self-signed-ssl',
  'ssl-dns-names',
  'ssl-issuer',
  'tls-version',
  'untrusted-root-certificate',
  'weak-cipher-suites',
  'wildcard-tls',
];

/** What each seed type gets from the 60 community templates, per mode (service targets). */
const EXPECTED: Record<string, { light: string[]; full: string[]; network: string[] }> = {
  grafana: {
    light: ['grafana-default-login', 'grafana-detect'],
    full: ['CVE-2021-39226', 'CVE-2021-43798', 'grafana-default-login', 'grafana-detect'],
    network: [],
  },
  keycloak: { light: ['keycloak-admin-panel'], full: ['CVE-2021-20323', 'keycloak-admin-panel'], network: [] },
  minio: {
    light: ['minio-console', 'minio-console-default-login', 'minio-default-login'],
    full: ['minio-console', 'minio-console-default-login', 'minio-default-login'],
    network: [],
  },
  elasticsearch: { light: ['elasticsearch'], full: ['elasticsearch'], network: [] },
  opensearch: { light: ['elasticsearch'], full: ['elasticsearch'], network: [] },
  rabbitmq: { light: ['rabbitmq-dashboard', 'rabbitmq-default-login'], full: ['rabbitmq-dashboard', 'rabbitmq-default-login'], network: ['rabbitmq-detect'] },
  mongodb: { light: [], full: [], network: ['mongodb-detect', 'mongodb-unauth'] },
  cnpg: { light: [], full: [], network: ['pgsql-detect', 'pgsql-version-detect', 'postgres-weak-credentials', 'unauth-psql'] },
  postgresql: { light: [], full: [], network: ['pgsql-detect', 'pgsql-version-detect', 'postgres-weak-credentials', 'unauth-psql'] },
  redis: { light: [], full: [], network: ['exposed-redis', 'redis-detect', 'redis-info', 'redis-require-auth', 'redis-weak-credentials'] },
  valkey: { light: [], full: [], network: ['exposed-redis', 'redis-detect', 'redis-info', 'redis-require-auth', 'redis-weak-credentials'] },
};

const s = suite('nuclei template selection on the community templates');
if (!existsSync(join(SHARED, 'ssl'))) {
  s('skipped', () => console.log(`SKIP nuclei-select: the community templates are absent (${SHARED}; ../shared is not part of the project)`));
} else {
  const cat = await loadCatalog(SHARED);
  const byId = new Map(cat.templates.map((t) => [t.id, t]));

  s('the catalog reads all 60 templates: id, protocol, severity, tags, out-of-band use', async () => {
    assert.is(cat.templates.length, 60);
    assert.is(cat.notTemplates, 0);
    const protocols = new Map<string, number>();
    for (const t of cat.templates) protocols.set(t.protocol, (protocols.get(t.protocol) ?? 0) + 1);
    assert.equal(Object.fromEntries(protocols), { http: 31, javascript: 6, tcp: 10, ssl: 13 });
    assert.equal(byId.get('redis-weak-credentials'), {
      id: 'redis-weak-credentials',
      path: 'javascript/default-logins/redis-default-logins.yaml',
      name: byId.get('redis-weak-credentials')!.name,
      protocol: 'javascript',
      severity: 'high',
      tags: ['js', 'redis', 'default-login', 'network'],
      interactsh: false,
    });
    assert.equal(
      cat.templates.filter((t) => t.interactsh).map((t) => t.id),
      ['CVE-2020-10770'],
    );
    assert.equal(
      cat.templates
        .filter((t) => t.tags.includes('intrusive'))
        .map((t) => t.id)
        .sort(),
      ['CVE-2020-13945', 'grafana-public-signup'],
    );
    assert.is(await loadCatalog(SHARED), cat, 'kept per directory');
  });

  for (const [type, want] of Object.entries(EXPECTED)) {
    s(`${type}: light, full and network pick exactly its own templates plus the technology-free ones`, () => {
      assert.equal(ids(cat, 'light', type), [...GENERIC_HTTP, ...want.light].sort(), 'light');
      assert.equal(ids(cat, 'full', type), [...GENERIC_HTTP, ...want.full].sort(), 'full');
      assert.equal(ids(cat, 'network', type), want.network, 'network');
      assert.equal(ids(cat, 'ssl', type), SSL_ALL, 'ssl: every TLS template, whatever the type');
    });
  }

  s("nothing for another technology: no grafana (or any other type's) template against minio, in any mode", () => {
    for (const [type] of Object.entries(EXPECTED)) {
      for (const mode of ['light', 'full', 'network', 'ssl'] as const) {
        for (const id of ids(cat, mode, type, { allowTags: new Set(DEFAULT_EXCLUDED_TAGS.keys()), interactsh: true }, 'route')) {
          const foreign = byId
            .get(id)!
            .tags.filter(
              (t) =>
                ALL_TECH_TAGS.includes(t) &&
                !selectorFor(mode, type).tags.includes(t) &&
                !selectorFor('full', type).tags.includes(t) &&
                !selectorFor('network', type).tags.includes(t),
            );
          assert.equal(foreign, [], `${mode} ${type} picks ${id} (${foreign})`);
        }
      }
    }
    const minio = ids(cat, 'full', 'minio', SAFE, 'route');
    assert.not.ok(
      minio.some((id) => id.startsWith('grafana') || id === 'CVE-2021-43798' || id === 'CVE-2021-39226'),
      minio.join(),
    );
  });

  s('production-safe by default: intrusive templates excluded with the reason; NUCLEI_ALLOW_TAGS lets them run', () => {
    assert.equal(excludedIds(cat, 'light', 'grafana'), ['grafana-public-signup:excluded_tag']);
    const ex = selectTemplates(cat, selectorFor('light', 'grafana'), SAFE).excluded[0];
    assert.match(ex.reason, /tagged 'intrusive': changes the target's state/);
    assert.match(ex.reason, /NUCLEI_ALLOW_TAGS/);
    assert.ok(ids(cat, 'light', 'grafana', { allowTags: new Set(['intrusive']), interactsh: false }).includes('grafana-public-signup'));
    // Routes in full mode get the gateway's templates: the APISIX CVE that creates a route is excluded.
    assert.equal(excludedIds(cat, 'full', 'webapp', SAFE, 'route'), ['CVE-2020-13945:excluded_tag']);
    assert.ok(ids(cat, 'full', 'webapp', SAFE, 'route').includes('CVE-2021-45232'));
    assert.not.ok(ids(cat, 'full', 'webapp', SAFE, 'service').includes('CVE-2021-45232'), 'the gateway templates go to routes only');
    // fuzz: the MySQL brute-force login.
    assert.equal(ids(cat, 'network', 'mysql'), ['mysql-detect']);
    assert.equal(excludedIds(cat, 'network', 'mysql'), ['mysql-default-login:excluded_tag']);
    assert.equal([...DEFAULT_EXCLUDED_TAGS.keys()], ['intrusive', 'dos', 'fuzz', 'bruteforce']);
  });

  s('out-of-band: the template using {{interactsh-url}} is reported as not run unless an interactsh server is set', () => {
    assert.equal(excludedIds(cat, 'full', 'keycloak'), ['CVE-2020-10770:needs_interactsh']);
    assert.match(selectTemplates(cat, selectorFor('full', 'keycloak'), SAFE).excluded[0].reason, /interactsh.*NUCLEI_INTERACTSH_URL/);
    assert.ok(ids(cat, 'full', 'keycloak', { allowTags: new Set(), interactsh: true }).includes('CVE-2020-10770'));
  });

  s('the community stack: one group per distinct selection, exclusions once with their types, union for comparison', async () => {
    const topo = await loadStackMetadata({ path: join(COMMUNITY, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
    const apisix = await loadApisixRoutes({ path: join(COMMUNITY, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' });
    const map = Object.fromEntries(
      [
        'app.community.test:80',
        'grafana.community.test:80',
        'minio.community.test:80',
        'expired.community.test:443',
        'legacy-tls.community.test:443',
        'secure.community.test:443',
        'cache.cache.svc.cluster.local:6379',
        'sessions.sessions.svc.cluster.local:6379',
        'db.db.svc.cluster.local:5432',
      ].map((k, i) => [k, `127.0.0.1:${20000 + i}`]),
    );
    const plan = (mode: NucleiMode) => planTargets(topo, mode, { hostMap: parseHostMap(JSON.stringify(map)), dns: 'off', routeScheme: 'https', apisix });
    const light = groupPlan(plan('light'), cat, SAFE);
    assert.equal(light.groups.map((g) => g.types.join('+')).sort(), ['grafana', 'minio', 'webapp']);
    assert.equal(
      light.excluded.map((e) => `${e.template_id} ${e.types}`),
      ['grafana-public-signup grafana'],
    );
    const net = groupPlan(plan('network'), cat, SAFE);
    assert.equal(net.groups.map((g) => `${g.types.join('+')} ${g.protocols} ${g.inputs.length}`).sort(), [
      'postgresql tcp,javascript 1',
      'redis+valkey tcp,javascript 2',
    ]);
    const ssl = groupPlan(plan('ssl'), cat, SAFE);
    assert.is(ssl.groups.length, 1);
    assert.is(ssl.groups[0].inputs.length, 3);
    const u = unionOf(net.groups);
    assert.is(u.length, 1);
    assert.is(u[0].templates.length, 9);
    assert.is(u[0].inputs.length, 3);
  });

  s('known false positives: informational only in the situation where they prove nothing', () => {
    assert.ok(falsePositiveRule('revoked-ssl-certificate', new Set(['expired-ssl', 'revoked-ssl-certificate'])));
    assert.not.ok(falsePositiveRule('revoked-ssl-certificate', new Set(['revoked-ssl-certificate'])), 'revoked without expiry is real');
    assert.ok(falsePositiveRule('redis-require-auth', new Set()));
    assert.ok(falsePositiveRule('redis-weak-credentials', new Set(['exposed-redis'])));
    assert.not.ok(falsePositiveRule('redis-weak-credentials', new Set()), 'a guessed password on a protected server is real');
    for (const id of ['revoked-ssl-certificate', 'redis-require-auth', 'redis-weak-credentials', 'postgres-weak-credentials', 'pgsql-version-detect'])
      assert.ok(byId.has(id), id);
  });
}

const r = suite('nuclei template catalog reader');
r('a template, a workflow, a helper file, broken YAML; tags as list or string; the ignore file', () => {
  assert.equal(readTemplate('id: a\ninfo:\n  name: A\n  severity: HIGH\n  tags: X, y\nhttp:\n  - method: GET\n', 'a.yaml'), {
    id: 'a',
    path: 'a.yaml',
    name: 'A',
    protocol: 'http',
    severity: 'high',
    tags: ['x', 'y'],
    interactsh: false,
  });
  assert.equal(readTemplate('id: b\ninfo:\n  tags: [tls]\nssl:\n  - address: "{{Host}}"\n', 'b.yaml')!.tags, ['tls']);
  assert.is(readTemplate('id: w\ninfo: {name: w}\nworkflows:\n  - template: a.yaml\n', 'w.yaml'), undefined);
  assert.is(readTemplate('payloads:\n  - admin\n', 'helpers/p.yaml'), undefined);
  assert.is(readTemplate('id: [unclosed', 'x.yaml'), undefined);
  assert.is(readTemplate('id: c\ninfo: {}\nhttp:\n  - path: ["{{BaseURL}}/?u=http://{{interactsh-url}}"]\n', 'c.yaml')!.interactsh, true);
  const ig = readIgnore('tags:\n  - "dos"\n  - "local"\nfiles:\n  - http/cves/2006/CVE-2006-1681.yaml\n');
  assert.equal(ig.tags, ['dos', 'local']);
  assert.ok(ig.files.has('http/cves/2006/CVE-2006-1681.yaml'));
  assert.equal(readIgnore('::: not yaml').tags, []);
});
r('a release directory: .nuclei-ignore honoured (files and tags), hidden dirs skipped, allow overrides the tag', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-nuclei-catalog-'));
  try {
    mkdirSync(join(dir, 'http'));
    mkdirSync(join(dir, '.github'));
    writeFileSync(join(dir, 'http/weak.yaml'), 'id: weak\ninfo: {tags: "panel"}\nhttp: []\n');
    writeFileSync(join(dir, 'http/local.yaml'), 'id: loc\ninfo: {tags: "panel,local"}\nhttp: []\n');
    writeFileSync(join(dir, 'http/ok.yaml'), 'id: ok\ninfo: {tags: "panel"}\nhttp: []\n');
    writeFileSync(join(dir, '.github/ci.yaml'), 'id: ci\ninfo: {tags: panel}\nhttp: []\n');
    writeFileSync(join(dir, '.nuclei-ignore'), 'tags:\n  - local\nfiles:\n  - http/weak.yaml\n');
    const c = await loadCatalogUncached(dir);
    assert.equal(c.templates.map((t) => t.id).sort(), ['loc', 'ok', 'weak']);
    const sel = selectTemplates(c, selectorFor('light', 'webapp'), SAFE);
    assert.equal(
      sel.templates.map((t) => t.id),
      ['ok'],
    );
    assert.equal(sel.excluded.map((e) => `${e.template_id}:${e.code}`).sort(), ['loc:nuclei_ignore', 'weak:nuclei_ignore']);
    assert.equal(
      selectTemplates(c, selectorFor('light', 'webapp'), { allowTags: new Set(['local']), interactsh: false })
        .templates.map((t) => t.id)
        .sort(),
      ['loc', 'ok'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
r('a target no template applies to is reported undecided with the reason, not scanned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-nuclei-catalog-'));
  try {
    writeFileSync(join(dir, 'tls.yaml'), 'id: only-tls\ninfo: {tags: "ssl"}\nssl: []\n');
    const topo = await loadStackMetadata({ path: join(COMMUNITY, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
    const plan = planTargets(topo, 'network', {
      hostMap: parseHostMap(JSON.stringify({ 'cache.cache.svc.cluster.local:6379': '127.0.0.1:1' })),
      dns: 'off',
      routeScheme: 'https',
    });
    const g = groupPlan(plan, await loadCatalogUncached(dir), SAFE);
    assert.equal(g.groups, []);
    assert.equal([...g.noTemplates.keys()], ['127.0.0.1:1']);
    const { Judge } = await import('../../functions/nuclei-scan/judge.ts');
    const res = new Judge(plan, false, g.noTemplates).result();
    const cache = res.targets.find((t) => t.component === 'cache')!;
    assert.is(cache.reached, null);
    assert.match(cache.error!, /no template in the templates directory applies to type 'redis' in network mode/);
    assert.is(res.score, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

r.run();
