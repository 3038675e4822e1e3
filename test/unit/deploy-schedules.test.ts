// knative/components/schedules against the functions: every PingSource's data is accepted by its
// function's own PingSource parser (lib/scan/events.ts), light hourly and full nightly, one Trigger
// per function for its schedule events, io.stacktic.scan.regressed routed to a named sink, K_SINK
// bound to the Broker. Rendered with the real kustomize (when built): the documented schedule patch works.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { PING_TYPE, SCAN_EXTENSION, scanRequestOf } from '../../lib/scan/events.ts';
import { REGRESSED_TYPE } from '../../lib/openreports/regression.ts';
import { definition as network } from '../../functions/network-scan/app.ts';
import { definition as opa } from '../../functions/opa-scan/app.ts';
import { definition as kubescape } from '../../functions/kubescape-scan/app.ts';
import { definition as nuclei } from '../../functions/nuclei-scan/app.ts';
import { BASE_DIR, KNATIVE_DIR, kustomizeBuild, kustomizeMissing, NAMESPACE, type Manifest } from '../../knative/render.ts';

const s = suite('deploy: schedules and regression events (knative/components/schedules)');
const DIR = join(KNATIVE_DIR, 'components/schedules');
const load = (f: string): Manifest[] => yaml.loadAll(readFileSync(join(DIR, f), 'utf8')).filter((d): d is Manifest => !!d && typeof d === 'object');
const all = (yaml.load(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources.flatMap(load);
const DEFS = [network, opa, kubescape, nuclei];
const broker = (yaml.loadAll(readFileSync(join(BASE_DIR, 'eventing/broker.yaml'), 'utf8')) as Manifest[]).find((o) => o?.kind === 'Broker')!;

s('a PingSource per scan and mode, accepted by the function itself; light hourly, full nightly', () => {
  const pings = all.filter((o) => o.kind === 'PingSource');
  assert.is(
    pings.length,
    DEFS.reduce((n, d) => n + d.modes.filter((m) => m === 'light' || m === 'full').length, 0),
  );
  for (const p of pings) {
    const def = DEFS.find((d) => d.name === p.spec.ceOverrides.extensions[SCAN_EXTENSION])!;
    assert.ok(def, p.metadata.name);
    const event = { specversion: '1.0', id: '1', source: '/ping', type: PING_TYPE, data: p.spec.data, [SCAN_EXTENSION]: def.name } as any;
    const req = scanRequestOf(event, def);
    assert.is(req.mode, p.metadata.labels?.['stack-scan.io/mode']);
    assert.is(p.spec.contentType, 'application/json');
    assert.is(p.spec.schedule, req.mode === 'light' ? '0 * * * *' : '0 2 * * *');
    assert.equal(p.spec.sink.ref, { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: broker.metadata.name });
    assert.is(p.metadata.namespace, NAMESPACE);
  }
});

s('one Trigger per function for its schedule events; regressions to a named sink; K_SINK is the Broker', () => {
  const triggers = all.filter((o) => o.kind === 'Trigger');
  for (const def of DEFS) {
    const t = triggers.find((x) => x.spec.filter.attributes.type === PING_TYPE && x.spec.filter.attributes[SCAN_EXTENSION] === def.name)!;
    assert.ok(t, def.name);
    assert.equal(t.spec.subscriber.ref, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: `${def.name}-scan` });
  }
  const reg = triggers.find((x) => x.spec.filter.attributes.type === REGRESSED_TYPE)!;
  assert.equal(reg.spec.filter.attributes, { type: REGRESSED_TYPE });
  assert.is(reg.spec.subscriber.ref.name, 'stack-scan-regressions');
  const sb = all.find((o) => o.kind === 'SinkBinding')!;
  assert.equal(sb.spec.sink.ref, { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: broker.metadata.name });
  assert.equal(sb.spec.subject.selector.matchLabels, { 'app.kubernetes.io/part-of': 'stack-scan' });
});

const missing = kustomizeMissing();
s('rendered with the real kustomize: the documented patch changes every light schedule', () => {
  if (missing) {
    console.warn(`deploy-schedules: render check skipped: ${missing}`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'schedules-'));
  try {
    cpSync(KNATIVE_DIR, join(tmp, 'knative'), { recursive: true });
    mkdirSync(join(tmp, 'knative/overlays/mine'));
    writeFileSync(
      join(tmp, 'knative/overlays/mine/kustomization.yaml'),
      'resources: [../example]\ncomponents: [../../components/schedules]\npatches:\n  - target: { kind: PingSource, labelSelector: ' +
        'stack-scan.io/mode=light }\n    patch: \'[{"op": "replace", "path": "/spec/schedule", "value": "*/30 * * * *"}]\'\n',
    );
    const out = kustomizeBuild(join(tmp, 'knative/overlays/mine'));
    const pings = out.filter((o) => o.kind === 'PingSource');
    assert.is(pings.length, 8);
    for (const p of pings) assert.is(p.spec.schedule, p.metadata.labels?.['stack-scan.io/mode'] === 'light' ? '*/30 * * * *' : '0 2 * * *');
    assert.ok(out.some((o) => o.kind === 'ClusterRole' && o.metadata.name === 'stack-scan:openreports:reports'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

s.run();
