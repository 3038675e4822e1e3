// Pure builders of the in-cluster network probes: the ephemeral container and
// its patch, the fallback pod, the settings, and splitting a container log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { nmapArgs, parseNmapXml, splitNmapLog } from '../../functions/network-scan/nmap/nmap.ts';
import { DEFAULT_PROBE_IMAGE, probeSettingsFromEnv } from '../../functions/network-scan/settings.ts';
import { matchesSelector } from '../../lib/k8s/selectors.ts';
import type { LabelSelector } from '../../lib/k8s/types.ts';
import {
  CONTROLLER_LABELS,
  ephemeralContainerPatch,
  ephemeralProbeContainer,
  fallbackProbePod,
  OVERRIDDEN_ANNOTATION,
  PROBE_SELECTOR,
  probeContainerName,
  settleArgs,
  STRIPPED_ANNOTATION,
} from '../../functions/network-scan/probes/pod-specs.ts';

const args = nmapArgs(
  [
    { id: 'a', host: 'minio.minio.svc.cluster.local', port: 9000, protocol: 'TCP' },
    { id: 'b', host: '10.0.0.12', port: 5432, protocol: 'TCP' },
  ],
  { hostTimeoutMs: 10_000 },
);
const IMAGE = 'ghcr.io/stacktic/nmap:7.93';
const sourceLabels = {
  'app.kubernetes.io/name': 'flowise',
  'app.kubernetes.io/instance': 'flowise',
  'app.kubernetes.io/managed-by': 'Helm',
  'stacktic.io/imageSigned': 'true',
  app: 'flowise',
  'pod-template-hash': '7d9c6b5f4',
  'controller-revision-hash': 'flowise-6c7f8',
  'statefulset.kubernetes.io/pod-name': 'flowise-0',
  'apps.kubernetes.io/pod-index': '0',
  'batch.kubernetes.io/controller-uid': '3f1c',
  'batch.kubernetes.io/job-name': 'flowise-migrate',
  'job-name': 'flowise-migrate',
  'controller-uid': '3f1c',
  'pod-template-generation': '2',
};
const pod = () =>
  fallbackProbePod({
    source: { namespace: 'flowise', labels: sourceLabels, name: 'flowise-7d9c6b5f4-abcde' },
    image: IMAGE,
    args,
    runId: 'r1a2b3',
    deadlineSeconds: 90,
  });

const hardened = (sc: any) => {
  assert.is(sc.runAsNonRoot, true);
  assert.is(sc.runAsUser, 65532);
  assert.is(sc.allowPrivilegeEscalation, false);
  assert.is(sc.privileged, false);
  assert.is(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.capabilities, { drop: ['ALL'] });
  assert.equal(sc.seccompProfile, { type: 'RuntimeDefault' });
  assert.not.ok(sc.capabilities.add, 'no capability added (a connect scan needs no NET_RAW)');
};

const e = suite('network probe: ephemeral container');

e('runs nmap with the given args, named after the run, hardened, without resources/probes/ports', () => {
  const c = ephemeralProbeContainer({ name: 'v4', image: IMAGE, args, runId: 'r1a2b3' });
  assert.is(c.name, 'stack-scan-probe-r1a2b3-v4');
  assert.is(c.image, IMAGE);
  assert.equal(c.command, ['nmap']);
  assert.equal(c.args, args);
  assert.ok(c.args !== args, 'args are copied');
  hardened(c.securityContext);
  for (const k of ['resources', 'ports', 'readinessProbe', 'livenessProbe', 'startupProbe', 'lifecycle'])
    assert.not.ok(k in c, `${k} is forbidden for ephemeral containers`);
  assert.is(c.stdin, false);
  assert.is(c.tty, false);
});

e('container names: run-scoped, unique per probe, valid DNS labels', () => {
  assert.is(probeContainerName('abc123', ''), 'stack-scan-probe-abc123');
  assert.is(probeContainerName('abc123', 'v6'), 'stack-scan-probe-abc123-v6');
  assert.is(probeContainerName('abc123', 'stack-scan-probe-abc123-2'), 'stack-scan-probe-abc123-2');
  assert.throws(() => probeContainerName('ABC', ''), /runId/);
  assert.throws(() => probeContainerName('abc', 'Not_A_Label'), /DNS label/);
  assert.throws(() => probeContainerName('abc', 'x'.repeat(60)), /at most 63/);
});

e('the patch body is a strategic merge of spec.ephemeralContainers holding just our container', () => {
  const c = ephemeralProbeContainer({ name: '', image: IMAGE, args, runId: 'r1' });
  const body = ephemeralContainerPatch(c);
  assert.equal(Object.keys(body), ['spec']);
  assert.equal(Object.keys(body.spec), ['ephemeralContainers']);
  assert.equal(body.spec.ephemeralContainers, [c]);
  assert.equal(JSON.parse(JSON.stringify(body)).spec.ephemeralContainers[0].name, 'stack-scan-probe-r1');
});

e('refuses an empty image and non-string args', () => {
  assert.throws(() => ephemeralProbeContainer({ name: '', image: '', args, runId: 'r1' }), /image/);
  assert.throws(() => ephemeralProbeContainer({ name: '', image: IMAGE, args: [1 as unknown as string], runId: 'r1' }), /array of strings/);
});

e.run();

const f = suite('network probe: fallback pod');

f('with a settle time, an init container of the probe image waits on its own loopback before nmap runs', () => {
  const pod = fallbackProbePod({
    source: { namespace: 'shop', labels: { app: 'shop' } },
    image: 'localhost/nmap:7.93',
    args,
    runId: 'abc123',
    deadlineSeconds: 60,
    settleMs: 2500,
  });
  const init = pod.spec.initContainers!;
  assert.is(init.length, 1);
  assert.equal([init[0].image, init[0].command, init[0].args], ['localhost/nmap:7.93', ['nmap'], settleArgs(2500)]);
  assert.ok(settleArgs(2500).includes('1250ms') && settleArgs(2500).at(-1) === '127.0.0.1', 'loopback only, two delays of half the time');
  assert.equal(init[0].securityContext, pod.spec.containers[0].securityContext);
  assert.equal(init[0].resources, pod.spec.containers[0].resources);
  assert.is(
    fallbackProbePod({ source: { namespace: 'shop', labels: {} }, image: 'x:1', args, runId: 'abc123', deadlineSeconds: 60 }).spec.initContainers,
    undefined,
  );
});

f('keeps the selecting labels, strips every controller label, adds ours', () => {
  const p = pod();
  assert.is(p.metadata.namespace, 'flowise');
  assert.is(p.metadata.generateName, 'stack-scan-probe-r1a2b3-');
  const l = p.metadata.labels;
  for (const k of CONTROLLER_LABELS) assert.not.ok(k in l, `${k} stripped`);
  assert.is(l['app.kubernetes.io/name'], 'flowise');
  assert.is(l['app.kubernetes.io/instance'], 'flowise');
  assert.is(l.app, 'flowise');
  assert.is(l['stacktic.io/imageSigned'], 'true');
  assert.is(l['app.kubernetes.io/managed-by'], 'stack-scan');
  assert.is(l['stack-scan.io/run'], 'r1a2b3');
  assert.is(l['stack-scan.io/purpose'], 'network-probe');
  // What changed is recorded on the pod.
  assert.is(p.metadata.annotations[OVERRIDDEN_ANNOTATION], 'app.kubernetes.io/managed-by');
  assert.is(
    p.metadata.annotations[STRIPPED_ANNOTATION],
    [
      'apps.kubernetes.io/pod-index',
      'batch.kubernetes.io/controller-uid',
      'batch.kubernetes.io/job-name',
      'controller-revision-hash',
      'controller-uid',
      'job-name',
      'pod-template-generation',
      'pod-template-hash',
      'statefulset.kubernetes.io/pod-name',
    ].join(','),
  );
  assert.is(p.metadata.annotations['stack-scan.io/source'], 'flowise/flowise-7d9c6b5f4-abcde');
  // The sweep selector finds it.
  const sel = Object.fromEntries(PROBE_SELECTOR.split(',').map((kv) => kv.split('=')));
  assert.ok(matchesSelector({ matchLabels: sel }, l));
});

f('a NetworkPolicy podSelector that selects the source selects the probe pod (the identity is kept)', () => {
  const l = pod().metadata.labels;
  const selectors: LabelSelector[] = [
    { matchLabels: { app: 'flowise' } },
    { matchLabels: { 'app.kubernetes.io/name': 'flowise', 'app.kubernetes.io/instance': 'flowise' } },
    { matchExpressions: [{ key: 'app', operator: 'In', values: ['flowise', 'llama'] }] },
    {},
  ];
  for (const sel of selectors) {
    assert.ok(matchesSelector(sel, sourceLabels), `source selected by ${JSON.stringify(sel)}`);
    assert.ok(matchesSelector(sel, l), `probe selected by ${JSON.stringify(sel)}`);
  }
  assert.not.ok(matchesSelector({ matchLabels: { app: 'llama' } }, l));
});

f('no overridden/stripped annotations when there was nothing to change', () => {
  const p = fallbackProbePod({ source: { namespace: 'llama', labels: { app: 'llama' } }, image: IMAGE, args, runId: 'r2', deadlineSeconds: 30 });
  assert.equal(p.metadata.annotations, {});
  assert.equal(p.metadata.labels, {
    app: 'llama',
    'app.kubernetes.io/managed-by': 'stack-scan',
    'stack-scan.io/purpose': 'network-probe',
    'stack-scan.io/run': 'r2',
  });
});

f('never Ready, bounded by activeDeadlineSeconds, never restarted, no token, no service links', () => {
  const p = pod();
  const s = p.spec;
  assert.is(s.activeDeadlineSeconds, 90);
  assert.is(s.restartPolicy, 'Never');
  assert.is(s.automountServiceAccountToken, false);
  assert.is(s.enableServiceLinks, false);
  assert.is(s.hostNetwork, false);
  assert.is(s.hostPID, false);
  assert.is(s.hostIPC, false);
  assert.is(s.containers.length, 1);
  const c = s.containers[0];
  assert.equal(c.command, ['nmap']);
  assert.equal(c.args, args);
  assert.is(c.image, IMAGE);
  // Readiness: exec `false` never succeeds, so Services never route to the pod.
  assert.equal(c.readinessProbe, { exec: { command: ['false'] }, periodSeconds: 10, failureThreshold: 1 });
  // Liveness exists (admission rules) but its first check is after the deadline: it never kills nmap.
  assert.ok(c.livenessProbe!.exec, 'an exec liveness probe');
  assert.ok(c.livenessProbe!.initialDelaySeconds! > s.activeDeadlineSeconds!);
});

f('hardened pod and container security context, requests and limits incl. ephemeral-storage', () => {
  const p = pod();
  assert.equal(p.spec.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
  const c = p.spec.containers[0];
  hardened(c.securityContext);
  for (const kind of ['requests', 'limits'] as const) {
    for (const r of ['cpu', 'memory', 'ephemeral-storage']) assert.ok(c.resources![kind]![r], `${kind}.${r}`);
  }
  assert.not.ok(c.volumeMounts, 'no volumes');
});

f('ServiceAccount: stack-scan-probe by default, configurable, never "default"', () => {
  assert.is(pod().spec.serviceAccountName, 'stack-scan-probe');
  const base = { source: { namespace: 'llama', labels: {} }, image: IMAGE, args, runId: 'r3', deadlineSeconds: 30 };
  assert.is(fallbackProbePod({ ...base, serviceAccountName: 'probe-sa' }).spec.serviceAccountName, 'probe-sa');
  assert.throws(() => fallbackProbePod({ ...base, serviceAccountName: 'default' }), /must not be "default"/);
  assert.throws(() => fallbackProbePod({ ...base, deadlineSeconds: 0 }), /deadlineSeconds/);
  assert.throws(() => fallbackProbePod({ ...base, source: { namespace: 'Bad_NS', labels: {} } }), /namespace/);
  assert.throws(() => fallbackProbePod({ ...base, runId: 'has space' }), /runId/);
});

f.run();

const st = suite('network probe: settings');

st('defaults; the pod deadline follows the timeout', () => {
  const s = probeSettingsFromEnv({});
  assert.equal(s, { image: DEFAULT_PROBE_IMAGE, timeoutMs: 60_000, deadlineSeconds: 93, concurrency: 10, maxEphemeralPerPod: 3, settleMs: 3000 });
  const t = probeSettingsFromEnv({
    NETWORK_PROBE_IMAGE: 'registry.k8s.io/e2e-test-images/nmap:1.0',
    NETWORK_PROBE_TIMEOUT_MS: '120000',
    NETWORK_PROBE_CONCURRENCY: '3',
  });
  assert.equal(t, {
    image: 'registry.k8s.io/e2e-test-images/nmap:1.0',
    timeoutMs: 120_000,
    deadlineSeconds: 153,
    concurrency: 3,
    maxEphemeralPerPod: 3,
    settleMs: 3000,
  });
});

st('invalid values are a 422 naming the variable', () => {
  const cases: [string, string][] = [
    ['NETWORK_PROBE_TIMEOUT_MS', 'soon'],
    ['NETWORK_PROBE_TIMEOUT_MS', '10'],
    ['NETWORK_PROBE_TIMEOUT_MS', '1.5e4'],
    ['NETWORK_PROBE_CONCURRENCY', '0'],
    ['NETWORK_PROBE_CONCURRENCY', '2.5'],
    ['NETWORK_PROBE_CONCURRENCY', '-1'],
    ['NETWORK_PROBE_IMAGE', 'has space:1'],
    ['NETWORK_PROBE_IMAGE', '--entrypoint=sh'],
  ];
  for (const [name, value] of cases) {
    try {
      probeSettingsFromEnv({ [name]: value });
      assert.unreachable(`${name}=${value} accepted`);
    } catch (err) {
      assert.instance(err, ScanError, `${name}=${value}`);
      assert.is((err as ScanError).status, 422);
      assert.is((err as ScanError).info.setting, name);
      assert.match((err as ScanError).message, name);
      assert.match((err as ScanError).message, value);
    }
  }
});

st.run();

const lg = suite('network probe: container log → nmap XML');
const fixtures = join(import.meta.dirname, '../fixtures/nmap');

lg('stderr lines interleaved in the log are separated; the XML parses exactly like nmap’s stdout', () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.xml'));
  assert.ok(files.length > 0, 'fixtures present');
  for (const file of files) {
    const xml = readFileSync(join(fixtures, file), 'utf8');
    const lines = xml.split('\n');
    // What the kubelet stores: both streams, line by line, in arrival order.
    const mixed = [
      'Starting Nmap 7.93 ( https://nmap.org )',
      ...lines.slice(0, 3),
      'Failed to resolve "gone.example.svc.cluster.local".',
      ...lines.slice(3, 7),
      'WARNING: an interleaved warning',
      ...lines.slice(7),
    ].join('\n');
    const { xml: out, stderr } = splitNmapLog(mixed);
    assert.equal(parseNmapXml(out, { stderr }), parseNmapXml(xml, { stderr }), file);
    assert.ok(out.trimEnd().endsWith('</nmaprun>'), file);
    assert.is(stderr, 'Starting Nmap 7.93 ( https://nmap.org )\nFailed to resolve "gone.example.svc.cluster.local".\nWARNING: an interleaved warning');
    assert.equal(parseNmapXml(out, { stderr }).unresolved, ['gone.example.svc.cluster.local']);
  }
});

lg('multi-line <output> text stays in the XML', () => {
  const log =
    '<?xml version="1.0"?>\n<nmaprun args="nmap">\n<output type="interactive">line one\nline two\n</output>\nstray stderr\n<runstats><finished ' +
    'exit="success"/></runstats>\n</nmaprun>\n';
  const { xml, stderr } = splitNmapLog(log);
  assert.ok(xml.includes('line one\nline two\n</output>'));
  assert.is(stderr, 'stray stderr');
});

lg('no XML at all: everything is stderr', () => {
  assert.equal(splitNmapLog('nmap: unrecognized option\nQUITTING!\n'), { xml: '', stderr: 'nmap: unrecognized option\nQUITTING!' });
});

lg.run();
