// Gatekeeper for the control plane: its CRDs, its namespace, its serving certificate, the one
// out-of-cluster process, and its ValidatingWebhookConfiguration.
//
// Gatekeeper flags, and why:
//   --operation=webhook --operation=audit --operation=status --operation=generate
//       One out-of-cluster process does what the real deployment splits over two
//       Deployments (webhook pods: webhook; audit pod: audit, status, generate), minus
//       the mutation operations (not scanned). "generate" is required: in v3.23 it is
//       the operation that creates each ConstraintTemplate's constraint CRD
//       (constrainttemplate_controller.go generateCRD); it also creates VAP/VAPB.
//   VAP: --default-create-vap-for-templates=false --default-create-vap-binding-for-constraints=false
//       In v3.23.1 both default to true (beta) and act because "generate" is assigned.
//       With false, no ValidatingAdmissionPolicy is generated unless a template sets
//       generateVAP: true explicitly, and no binding unless a constraint scopes an
//       enforcement action to vap.k8s.io (Gatekeeper's documented opt-in semantics).
//       Reason: the OPA scan reads denials from the webhook
//       (`admission webhook "validation.gatekeeper.sh" denied the request: [<constraint>] ...`).
//       A generated VAP + binding would make the apiserver itself deny CEL-based
//       templates with a different message ("ValidatingAdmissionPolicy '...' denied
//       request"), before and instead of the webhook. --enable-k8s-native-validation
//       stays at its default (true): K8sNativeValidation (CEL) templates are still
//       evaluated, by Gatekeeper's own CEL driver inside the webhook and audit.
//   --debug-use-fake-pod, POD_NAMESPACE=gatekeeper-system, POD_NAME=no-pod
//       Gatekeeper reads its namespace from POD_NAMESPACE and its identity from
//       POD_NAME (pkg/util/pod_info.go); --debug-use-fake-pod makes it use a fake Pod
//       object (name "no-pod", uid "abcd") as the owner of its *PodStatus objects
//       instead of GETting its own Pod, which does not exist out of cluster.
//   --disable-cert-rotation --cert-dir=<dir> (ca.crt, tls.crt, tls.key made here with
//       openssl; IP SAN 127.0.0.1) --host=127.0.0.1 --port=<free>
//       We register the ValidatingWebhookConfiguration ourselves with clientConfig.url
//       and caBundle, so there is no Service and nothing for the rotator to patch.
//   --health-addr=127.0.0.1:<free> (we wait for /readyz), --metrics-addr=0 (the default:
//       controller-runtime metrics off), --prometheus-port=<free> (the prometheus
//       metrics backend is on by default and would otherwise bind :8888).
//   --audit-interval=5 (default 60) so audit results show up quickly;
//   --api-cache-dir=<dir>/gatekeeper-audit (default /tmp/audit, shared between runs otherwise);
//   --shutdown-delay=0 (default 10s, only useful behind a Service);
//   --exempt-namespace=gatekeeper-system (as the real webhook Deployment);
//   --log-denies (each denial is logged to gatekeeper.log).
//   --disable-opa-builtin is not set: nothing here can reach a network anyway.
// The ValidatingWebhookConfiguration mirrors deploy/gatekeeper.yaml of v3.23.1
// (name, webhook names, rules incl. the subresources, namespaceSelector, timeouts),
// except: clientConfig.url instead of a Service, failurePolicy Fail instead of Ignore
// for validation.gatekeeper.sh (a test must never pass because the webhook was not
// called), and kube-system is excluded too.
//
// Gatekeeper talks to the apiserver with the admin kubeconfig (system:masters).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { waitUntil } from '../proc.ts';
import { get } from './http.ts';
import type { Pki } from './pki.ts';
import type { SpawnComponent } from './processes.ts';

const GK_NAMESPACE = 'gatekeeper-system';
const GK_IGNORE_LABEL = 'admission.gatekeeper.sh/ignore';
const GK_VWC_NAME = 'gatekeeper-validating-webhook-configuration';
const TIMEOUTS = { crds: 30_000, gatekeeper: 60_000, webhook: 30_000 };

export interface GatekeeperOptions {
  dir: string;
  pki: Pki;
  kc: k8s.KubeConfig;
  kubeconfigPath: string;
  crdsPath: string;
  ports: { webhook: number; health: number; prometheus: number };
  log: (line: string) => void;
  secs: (from?: number) => string;
}

/** Installs the CRDs, starts Gatekeeper, registers its webhook and proves the apiserver calls it; returns the webhook URL. */
export async function startGatekeeper(spawnProc: SpawnComponent, o: GatekeeperOptions): Promise<string> {
  const { dir, pki, kc, kubeconfigPath, crdsPath, log, secs } = o;
  const [gkPort, gkHealth, gkProm] = [o.ports.webhook, o.ports.health, o.ports.prometheus];
  const t3 = Date.now();
  await installCrds(kc, crdsPath);
  log(`Gatekeeper CRDs established (${secs(t3)})`);

  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({
    body: { metadata: { name: GK_NAMESPACE, labels: { [GK_IGNORE_LABEL]: 'no-self-managing' } } },
  });

  const certDir = join(dir, 'gatekeeper-certs');
  const auditDir = join(dir, 'gatekeeper-audit'); // must exist: audit fails on every run otherwise
  await mkdir(certDir);
  await mkdir(auditDir);
  await pki.leaf(
    'gatekeeper',
    'gatekeeper-ca',
    `/O=gatekeeper/CN=gatekeeper-webhook-service.${GK_NAMESPACE}.svc`,
    ['serverAuth', 'clientAuth'],
    ['IP:127.0.0.1', 'DNS:localhost', `DNS:gatekeeper-webhook-service.${GK_NAMESPACE}.svc`],
  );
  const gkCa = await readFile(pki.path('gatekeeper-ca.crt'), 'utf8');
  await writeFile(join(certDir, 'ca.crt'), gkCa);
  await writeFile(join(certDir, 'tls.crt'), await readFile(pki.path('gatekeeper.crt')));
  await writeFile(join(certDir, 'tls.key'), await readFile(pki.path('gatekeeper.key')), { mode: 0o600 });

  const t4 = Date.now();
  const gk = spawnProc(
    'gatekeeper',
    [
      '--operation=webhook',
      '--operation=audit',
      '--operation=status',
      '--operation=generate',
      '--debug-use-fake-pod',
      '--disable-cert-rotation',
      `--cert-dir=${certDir}`,
      '--host=127.0.0.1',
      `--port=${gkPort}`,
      `--health-addr=127.0.0.1:${gkHealth}`,
      '--metrics-addr=0',
      `--prometheus-port=${gkProm}`,
      '--default-create-vap-for-templates=false',
      '--default-create-vap-binding-for-constraints=false',
      '--audit-interval=5',
      `--api-cache-dir=${auditDir}`,
      '--shutdown-delay=0',
      `--exempt-namespace=${GK_NAMESPACE}`,
      '--log-denies',
    ],
    {
      KUBECONFIG: kubeconfigPath,
      POD_NAMESPACE: GK_NAMESPACE,
      POD_NAME: 'no-pod',
      NAMESPACE: GK_NAMESPACE,
      CONTAINER_NAME: 'manager',
    },
  );
  await waitUntil(
    'gatekeeper /readyz',
    TIMEOUTS.gatekeeper,
    async () => {
      const r = await get(`http://127.0.0.1:${gkHealth}/readyz`);
      if (r.status !== 200) throw new Error(`/readyz ${r.status}: ${r.body.trim().slice(0, 300)}`);
      return true;
    },
    [gk],
  );
  const gatekeeperUrl = `https://127.0.0.1:${gkPort}`;
  log(`gatekeeper ready on ${gatekeeperUrl} (${secs(t4)})`);

  await registerWebhook(kc, gatekeeperUrl, gkCa);
  // Prove the apiserver -> webhook path (TLS, caBundle, URL) works before returning:
  // Gatekeeper's check-ignore-label webhook must deny this dry-run.
  await waitUntil(
    'the Gatekeeper admission webhook to be called',
    TIMEOUTS.webhook,
    async () => {
      try {
        await core.createNamespace({
          body: { metadata: { name: 'stackscan-webhook-probe', labels: { [GK_IGNORE_LABEL]: 'x' } } },
          dryRun: 'All',
        });
        throw new Error('dry-run namespace with the ignore label was admitted (webhook not active yet)');
      } catch (e) {
        if (e instanceof k8s.ApiException && /check-ignore-label\.gatekeeper\.sh/.test(JSON.stringify(e.body))) return true;
        throw e;
      }
    },
    [gk],
  );
  log(`gatekeeper admission webhook active (${secs(t3)} for Gatekeeper)`);
  return gatekeeperUrl;
}

async function installCrds(kc: k8s.KubeConfig, crdsPath: string): Promise<void> {
  // k8s.loadAllYaml, not yaml.loadAll: the typed client serializes by its model's field
  // names, so a raw object would lose e.g. x-kubernetes-preserve-unknown-fields.
  const docs = k8s
    .loadAllYaml(await readFile(crdsPath, 'utf8'))
    .filter((d): d is k8s.V1CustomResourceDefinition => !!d && (d as { kind?: string }).kind === 'CustomResourceDefinition');
  if (!docs.length) throw new Error(`no CustomResourceDefinition in ${crdsPath}`);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await Promise.all(docs.map((body) => ext.createCustomResourceDefinition({ body })));
  const pending = new Set(docs.map((d) => d.metadata!.name!));
  await waitUntil(`${pending.size} Gatekeeper CRDs to be Established`, TIMEOUTS.crds, async () => {
    for (const name of [...pending]) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) pending.delete(name);
    }
    if (pending.size) throw new Error(`not yet Established: ${[...pending].join(', ')}`);
    return true;
  });
}

async function registerWebhook(kc: k8s.KubeConfig, url: string, caPem: string): Promise<void> {
  const caBundle = Buffer.from(caPem).toString('base64');
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  await admission.createValidatingWebhookConfiguration({
    body: {
      metadata: { name: GK_VWC_NAME, labels: { 'gatekeeper.sh/system': 'yes' } },
      webhooks: [
        {
          name: 'validation.gatekeeper.sh',
          admissionReviewVersions: ['v1', 'v1beta1'],
          clientConfig: { url: `${url}/v1/admit`, caBundle },
          failurePolicy: 'Fail',
          matchPolicy: 'Exact',
          sideEffects: 'None',
          timeoutSeconds: 3,
          namespaceSelector: {
            matchExpressions: [
              { key: GK_IGNORE_LABEL, operator: 'DoesNotExist' },
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [GK_NAMESPACE, 'kube-system'] },
            ],
          },
          rules: [
            {
              apiGroups: ['*'],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE'],
              resources: [
                '*',
                'pods/ephemeralcontainers',
                'pods/exec',
                'pods/log',
                'pods/eviction',
                'pods/portforward',
                'pods/proxy',
                'pods/attach',
                'pods/binding',
                'pods/resize',
                'deployments/scale',
                'replicasets/scale',
                'statefulsets/scale',
                'replicationcontrollers/scale',
                'services/proxy',
                'nodes/proxy',
                'services/status',
              ],
            },
          ],
        },
        {
          name: 'check-ignore-label.gatekeeper.sh',
          admissionReviewVersions: ['v1', 'v1beta1'],
          clientConfig: { url: `${url}/v1/admitlabel`, caBundle },
          failurePolicy: 'Fail',
          matchPolicy: 'Exact',
          sideEffects: 'None',
          timeoutSeconds: 3,
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [GK_NAMESPACE] }],
          },
          rules: [{ apiGroups: [''], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['namespaces'] }],
        },
      ],
    },
  });
}
