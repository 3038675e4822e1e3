// knative/base checked against the functions themselves (one source of truth): the route's
// paths are each function's definition.path, the Triggers filter on each definition's name,
// the Knative timeouts cover every mode's scan budget, and the pod specs are hardened.
// Pure: reads the YAML files and the definitions; the rendered and dry-run checks are in
// test/integration/deploy-manifests.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ABORT_GRACE_MS, scanTimeoutMs, timeoutSettingName, type ScanDefinition } from '../../lib/scan/scaffold.ts';
import { REQUESTED_TYPE, SCAN_EXTENSION } from '../../lib/scan/events.ts';
import { definition as network } from '../../functions/network-scan/app.ts';
import { definition as opa } from '../../functions/opa-scan/app.ts';
import { definition as kubescape } from '../../functions/kubescape-scan/app.ts';
import { definition as nuclei } from '../../functions/nuclei-scan/app.ts';
import { BASE_DIR, FUNCTIONS, NAMESPACE, ROOT, type Manifest } from '../../knative/render.ts';

const s = suite('deploy: knative/base against the functions');

const DEFS = new Map<string, ScanDefinition<string>>([
  ['network-scan', network],
  ['opa-scan', opa],
  ['kubescape-scan', kubescape],
  ['nuclei-scan', nuclei],
]);

function load(rel: string): Manifest[] {
  return yaml.loadAll(readFileSync(join(BASE_DIR, rel), 'utf8')).filter((d): d is Manifest => !!d && typeof d === 'object');
}
const kustomization = yaml.load(readFileSync(join(BASE_DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
const all = kustomization.resources.flatMap(load);
const services = new Map(all.filter((o) => o.apiVersion === 'serving.knative.dev/v1' && o.kind === 'Service').map((o) => [o.metadata.name, o]));
const route = all.find((o) => o.kind === 'ApisixRoute')!;

s('every function folder has a definition, a Knative Service and a ServiceAccount; nothing else does', () => {
  const folders = readdirSync(join(ROOT, 'functions'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.equal(folders, [...FUNCTIONS].sort());
  assert.equal([...services.keys()].sort(), [...FUNCTIONS].sort());
  assert.equal(
    all
      .filter((o) => o.kind === 'ServiceAccount')
      .map((o) => o.metadata.name)
      .sort(),
    [...FUNCTIONS].sort(),
  );
  for (const [fn, svc] of services) assert.is(svc.spec.template.spec.serviceAccountName, fn);
});

s("the APISIX route: one rule per function, path = the function's definition.path, to its cluster-local host, key-auth", () => {
  assert.is(route.apiVersion, 'apisix.apache.org/v2');
  const rules = new Map<string, any>(route.spec.http.map((r: any) => [r.name, r]));
  assert.equal([...rules.keys()].sort(), [...FUNCTIONS].sort());
  const paths = route.spec.http.flatMap((r: any) => r.match.paths);
  assert.equal(paths.sort(), [...DEFS.values()].map((d) => d.path).sort(), "exactly the functions' paths");
  for (const [fn, def] of DEFS) {
    const r = rules.get(fn);
    assert.equal(r.match.paths, [def.path], fn);
    assert.equal(r.match.methods, ['GET'], `${fn}: scans are GET requests`);
    assert.equal(r.authentication, { enable: true, type: 'keyAuth' }, `${fn}: key-auth`);
    const rewrite = r.plugins.find((p: any) => p.name === 'proxy-rewrite');
    assert.is(rewrite.config.host, `${fn}.${NAMESPACE}.svc.cluster.local`, `${fn}: Host rewritten to the Knative service`);
    assert.equal(
      r.backends.map((b: any) => b.serviceName),
      ['knative-local-gateway'],
      `${fn}: through the Knative ingress`,
    );
    assert.ok(parseInt(r.timeout.read, 10) >= services.get(fn)!.spec.template.spec.timeoutSeconds, `${fn}: APISIX waits as long as Knative`);
  }
  const gateway = all.find((o) => o.kind === 'Service' && o.apiVersion === 'v1' && o.metadata.name === 'knative-local-gateway')!;
  assert.is(gateway.spec.type, 'ExternalName');
  const consumer = all.find((o) => o.kind === 'ApisixConsumer')!;
  assert.is(consumer.spec.authParameter.keyAuth.secretRef.name, 'stack-scan-apikey');
});

s("one Trigger per function, on io.stacktic.scan.requested and the function's own scan name", () => {
  const triggers = all.filter((o) => o.kind === 'Trigger');
  assert.is(triggers.length, FUNCTIONS.length);
  for (const [fn, def] of DEFS) {
    const t = triggers.find((x) => x.spec.subscriber.ref.name === fn)!;
    assert.ok(t, fn);
    assert.equal(t.spec.filter.attributes, { type: REQUESTED_TYPE, [SCAN_EXTENSION]: def.name });
    assert.equal(t.spec.subscriber.ref, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: fn });
    assert.is(t.spec.broker, all.find((o) => o.kind === 'Broker')!.metadata.name);
  }
});

s("every mode's scan budget (plus the abort grace) ends before Knative's request timeout", () => {
  for (const [fn, def] of DEFS) {
    const svc = services.get(fn)!;
    const timeoutS = svc.spec.template.spec.timeoutSeconds;
    assert.ok(timeoutS <= 600, `${fn}: within Knative's default max-revision-timeout-seconds (600)`);
    const env: NodeJS.ProcessEnv = Object.fromEntries(svc.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    assert.ok(env[timeoutSettingName(def)], `${fn} sets ${timeoutSettingName(def)}`);
    for (const mode of def.modes) {
      const ms = scanTimeoutMs(def, mode, env);
      assert.ok(ms + ABORT_GRACE_MS < timeoutS * 1000, `${fn} ${mode}: ${ms} ms + ${ABORT_GRACE_MS} ms grace < ${timeoutS} s`);
    }
  }
});

s('scale to zero, bounded scale, concurrency, resources, /healthz probes, hardened security context', () => {
  for (const [fn, svc] of services) {
    const t = svc.spec.template;
    assert.is(t.metadata.annotations['autoscaling.knative.dev/min-scale'], '0', fn);
    assert.ok(Number(t.metadata.annotations['autoscaling.knative.dev/max-scale']) >= 1, fn);
    assert.ok(t.spec.containerConcurrency >= 1, fn);
    assert.is(t.spec.containers.length, 1);
    const c = t.spec.containers[0];
    for (const k of ['cpu', 'memory']) assert.ok(c.resources.requests[k] && c.resources.limits[k], `${fn} ${k}`);
    assert.is(c.readinessProbe.httpGet.path, '/healthz');
    assert.is(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.match(c.image, new RegExp(`^ghcr\\.io/stacktic/stack-scan-${fn}:\\d+\\.\\d+\\.\\d+$`), `${fn}: a pinned tag`);
    const env = new Map(c.env.map((e: any) => [e.name, e.value]));
    assert.is(env.get('STACK_METADATA'), '/etc/stack-scan/stack-metadata.yaml');
    assert.ok(
      c.volumeMounts.some((m: any) => m.mountPath === '/etc/stack-scan' && m.readOnly),
      `${fn}: the metadata ConfigMap mounted`,
    );
  }
});

s("the Containerfile has one target per function and the Services' images match them", () => {
  const file = readFileSync(join(ROOT, 'Containerfile'), 'utf8');
  const targets = [...file.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
  for (const fn of FUNCTIONS) {
    assert.ok(targets.includes(fn), `target ${fn}`);
    const copy = (from: string, to: string) => `COPY --from=bundles /src/dist/${from} /app/${to}\\n`;
    const runs = `${copy(`${fn}\\.mjs`, '')}${copy(`${fn}\\.chunks`, `${fn}\\.chunks`)}CMD \\["node", "/app/${fn}\\.mjs"\\]`;
    assert.match(file, new RegExp(runs), `${fn} runs its bundle (entry and chunks)`);
  }
  assert.ok(targets.includes('nmap-probe'));
  const probeImage = services.get('network-scan')!.spec.template.spec.containers[0].env.find((e: any) => e.name === 'NETWORK_PROBE_IMAGE').value;
  assert.match(file, new RegExp(`-t ${probeImage.replace(/[.]/g, '\\.')} \\.`), 'the probe image is built by the nmap-probe target');
  assert.match(file, /^USER 65532:65532$/m);
});

s("the base's stack metadata is the demo stack's (the example deploys what the demo shows)", () => {
  assert.is(readFileSync(join(BASE_DIR, 'stack-metadata.yaml'), 'utf8'), readFileSync(join(ROOT, 'demo/stack/stack-metadata.yaml'), 'utf8'));
});

s.run();
