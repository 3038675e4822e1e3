// What harness/knative installs, without a cluster: the upstream Knative YAML (read from the pinned
// modules' zips in GOMODCACHE) after localize(), and knative/overlays/local rendered by the real
// kustomize. Skips with the reason when the module zips or kustomize are not here yet.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { eventingObjects, localImage, localize, moduleDir, pinnedVersion, servingObjects, TRAEFIK_CLASS } from '../../harness/knative/index.ts';
import { FUNCTIONS, knativeService, kustomizeMissing } from '../../knative/render.ts';
import { localObjects } from '../../harness/knative/functions.ts';

const s = suite('Knative install: localized upstream YAML, local overlay');

function zipsMissing(): string | undefined {
  try {
    const want: [string, string, string][] = [
      ['knative-serving', 'knative.dev/serving', 'knative.dev/serving'],
      ['knative-serving', 'knative.dev/networking', 'knative.dev/networking'],
      ['knative-serving', 'knative.dev/caching', 'knative.dev/caching'],
      ['knative-eventing', 'knative.dev/eventing', 'knative.dev/eventing'],
    ];
    const missing = want.filter(([dir, mod]) => !existsSync(moduleDir(mod, pinnedVersion(dir, mod), dir, false))).map(([, mod]) => mod);
    return missing.length
      ? `module zips not in GOMODCACHE: ${missing.join(', ')} (bash harness/build.sh knative-serving knative-eventing downloads them)`
      : undefined;
  } catch (e) {
    return `go is not available: ${(e as Error).message.split('\n')[0]}`;
  }
}

const zips = zipsMissing();
if (zips) {
  console.warn(`SKIP knative-install (upstream YAML): ${zips}`);
  s.skip(`(skipped: ${zips})`, () => {});
} else {
  s('serving: every ko:// image is a local image, never pulled; system CPU requests 10m; Traefik class; localhost skips tag resolution', () => {
    const objs = localize(servingObjects());
    const text = JSON.stringify(objs);
    assert.not.match(text, /ko:\/\//);
    assert.ok(
      objs.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'ingresses.networking.internal.knative.dev'),
      'networking ingress CRD (a symlink upstream)',
    );
    assert.ok(
      objs.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'images.caching.internal.knative.dev'),
      'caching Image CRD',
    );
    assert.not.ok(objs.some((o) => o.kind === 'HorizontalPodAutoscaler'));
    const deps = objs.filter((o) => o.kind === 'Deployment');
    assert.equal(deps.map((d) => d.metadata.name).sort(), ['activator', 'autoscaler', 'controller', 'webhook']);
    for (const d of deps) {
      for (const c of d.spec.template.spec.containers) {
        assert.match(c.image, /^localhost\/stackscan\/knative-serving-[a-z-]+:v0\.50\.0$/);
        assert.is(c.imagePullPolicy, 'Never');
        assert.is(c.resources.requests.cpu, '10m');
      }
    }
    const cm = (n: string) => objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === n)!.data;
    assert.is(cm('config-network')['ingress-class'], TRAEFIK_CLASS);
    // The functions' local images are dev.local/…, a registry Knative skips tag resolution for by
    // default (localhost/… would parse as a Docker Hub repository and be looked up there).
    assert.match(cm('config-deployment')['registries-skipping-tag-resolving'], /(^|,)dev\.local(,|$)/);
    assert.is(cm('config-deployment')['queue-sidecar-image'], localImage('serving', 'queue'));
  });

  s('eventing: broker, in-memory channel and PingSource adapter images are local; job-sink and request-reply left out', () => {
    const objs = localize(eventingObjects());
    const deps = objs
      .filter((o) => o.kind === 'Deployment')
      .map((d) => d.metadata.name)
      .sort();
    assert.ok(
      deps.includes('mt-broker-ingress') && deps.includes('mt-broker-filter') && deps.includes('imc-dispatcher') && deps.includes('pingsource-mt-adapter'),
      deps.join(','),
    );
    assert.not.ok(deps.includes('job-sink') || deps.includes('request-reply'));
    for (const d of objs.filter((o) => o.kind === 'Deployment'))
      for (const c of d.spec.template.spec.containers) assert.match(c.image, /^localhost\/stackscan\/knative-eventing-/);
  });
}

const km = kustomizeMissing();
if (km) {
  console.warn(`SKIP knative-install (overlay): ${km}`);
  s.skip(`(skipped: ${km})`, () => {});
} else {
  s('knative/overlays/local: local images, lowered CPU requests (limits as shipped), no APISIX, the gateway on Traefik', () => {
    const objs = localObjects({ eventing: true });
    const cpu: Record<string, string> = { 'network-scan': '25m', 'opa-scan': '25m', 'kubescape-scan': '50m', 'nuclei-scan': '50m' };
    for (const fn of FUNCTIONS) {
      const c = knativeService(objs, fn).spec.template.spec.containers[0];
      assert.is(c.image, `dev.local/stackscan/stack-scan-${fn}:local`);
      assert.is(c.imagePullPolicy, 'Never');
      assert.is(c.resources.requests.cpu, cpu[fn]);
      assert.ok(c.resources.limits.cpu, 'limits kept');
    }
    assert.not.ok(objs.some((o) => o.apiVersion.startsWith('apisix.apache.org/')));
    assert.is(
      objs.find((o) => o.kind === 'Service' && o.metadata.name === 'knative-local-gateway')!.spec.externalName,
      'traefik-private.traefik.svc.cluster.local',
    );
    const net = knativeService(objs, 'network-scan').spec.template.spec.containers[0];
    assert.is(net.env.find((e: any) => e.name === 'NETWORK_PROBE_IMAGE').value, 'localhost/stackscan/nmap:7.93');
    assert.not.ok(localObjects({ eventing: false }).some((o) => o.apiVersion.startsWith('eventing.knative.dev/')));
  });
}

s.run();
