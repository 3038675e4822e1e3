// The test control plane itself: a real kube-apiserver (version, authn, RBAC) and a
// real Gatekeeper admission webhook denying a real (dry-run) request.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as k8s from '@kubernetes/client-node';
import { testCluster } from '../support/cluster.ts';

const s = suite('controlplane');

const NS = `cp-test-${Date.now().toString(36)}`;
const TEMPLATE = 'k8sstackscanrequiredlabels';
const KIND = 'K8sStackscanRequiredLabels';
const CONSTRAINT = 'configmaps-must-have-owner';

function adminConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testCluster().kubeconfigPath);
  return kc;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  const detail = last instanceof k8s.ApiException ? JSON.stringify(last.body) : last instanceof Error ? last.message : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail ? `: ${detail}` : ''}`);
}

function message(e: unknown): string {
  if (e instanceof k8s.ApiException) {
    // The typed APIs leave the body as the raw JSON text of a v1 Status.
    let body = e.body as { message?: string } | string;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body) as { message?: string };
      } catch {
        return body as string;
      }
    }
    return body?.message ?? JSON.stringify(body);
  }
  return e instanceof Error ? e.message : String(e);
}

s('the apiserver is the pinned kube-apiserver v1.36.3', async () => {
  const v = await adminConfig().makeApiClient(k8s.VersionApi).getCode();
  assert.is(v.gitVersion, 'v1.36.3');
  assert.is(v.major, '1');
  assert.is(v.minor, '36');
});

s('the admin kubeconfig (system:masters) can create a namespace', async () => {
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  const ns = await core.createNamespace({ body: { metadata: { name: NS } } });
  assert.is(ns.metadata?.name, NS);
  const read = await core.readNamespace({ name: NS });
  assert.is(read.status?.phase, 'Active');
});

s('a client-cert user without RBAC bindings is forbidden (403)', async () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(await testCluster().userKubeconfig('stackscan-nobody', ['stackscan-testers']));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  try {
    await core.listNamespace();
    assert.unreachable('listing namespaces should be forbidden');
  } catch (e) {
    if (!(e instanceof k8s.ApiException)) throw e;
    assert.is(e.code, 403);
    assert.match(message(e), /User "stackscan-nobody" cannot list resource "namespaces"/);
  }

  // ... and allowed once RBAC says so: the identity (CN + O) comes from the client cert.
  // (Not the built-in "view": admin/edit/view are aggregated ClusterRoles, filled in by
  // kube-controller-manager, which this control plane does not run.)
  const rbac = adminConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace: NS,
    body: {
      metadata: { name: 'configmap-reader' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: NS,
    body: {
      metadata: { name: 'testers-read-configmaps' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'stackscan-testers' }],
    },
  });
  const cms = await eventually('the RoleBinding to take effect', 10_000, () => core.listNamespacedConfigMap({ namespace: NS }));
  assert.ok(Array.isArray(cms.items));
});

s('Gatekeeper denies a violating dry-run create through the validation.gatekeeper.sh webhook, and audits', async () => {
  const kc = adminConfig();
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // Exists before the constraint: only the audit can report it.
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'legacy-no-owner' } } });
  const template = {
    apiVersion: 'templates.gatekeeper.sh/v1',
    kind: 'ConstraintTemplate',
    metadata: { name: TEMPLATE },
    spec: {
      crd: {
        spec: {
          names: { kind: KIND },
          validation: {
            openAPIV3Schema: { type: 'object', properties: { labels: { type: 'array', items: { type: 'string' } } } },
          },
        },
      },
      targets: [
        {
          target: 'admission.k8s.gatekeeper.sh',
          rego: [
            `package ${TEMPLATE}`,
            '',
            'violation[{"msg": msg}] {',
            '  provided := {l | input.review.object.metadata.labels[l]}',
            '  required := {l | l := input.parameters.labels[_]}',
            '  missing := required - provided',
            '  count(missing) > 0',
            '  msg := sprintf("missing required labels: %v", [sort(missing)])',
            '}',
          ].join('\n'),
        },
      ],
    },
  };
  await objects.create(template);

  // Gatekeeper creates the constraint CRD from the template; then the constraint can be created.
  await eventually('the ConstraintTemplate to be created by Gatekeeper', 30_000, async () => {
    const t = (await objects.read({ apiVersion: template.apiVersion, kind: template.kind, metadata: { name: TEMPLATE } })) as {
      status?: { created?: boolean; byPod?: { errors?: unknown[] }[] };
    };
    const errors = t.status?.byPod?.flatMap((p) => p.errors ?? []) ?? [];
    if (errors.length) throw new Error(`template errors: ${JSON.stringify(errors)}`);
    return t.status?.created ? true : undefined;
  });
  const constraint = {
    apiVersion: 'constraints.gatekeeper.sh/v1beta1',
    kind: KIND,
    metadata: { name: CONSTRAINT },
    spec: {
      enforcementAction: 'deny',
      match: { kinds: [{ apiGroups: [''], kinds: ['ConfigMap'] }], namespaces: [NS] },
      parameters: { labels: ['owner'] },
    },
  };
  await eventually('the constraint to be accepted', 30_000, () => k8s.KubernetesObjectApi.makeApiClient(kc).create(constraint));
  await eventually('the constraint to be enforced', 30_000, async () => {
    const c = (await k8s.KubernetesObjectApi.makeApiClient(kc).read({
      apiVersion: constraint.apiVersion,
      kind: KIND,
      metadata: { name: CONSTRAINT },
    })) as { status?: { byPod?: { enforced?: boolean }[] } };
    return c.status?.byPod?.length && c.status.byPod.every((p) => p.enforced) ? true : undefined;
  });

  try {
    await core.createNamespacedConfigMap({
      namespace: NS,
      dryRun: 'All',
      body: { metadata: { name: 'no-owner' }, data: { a: 'b' } },
    });
    assert.unreachable('the violating ConfigMap should have been denied');
  } catch (e) {
    if (!(e instanceof k8s.ApiException)) throw e;
    assert.is(e.code, 403);
    assert.match(message(e), `admission webhook "validation.gatekeeper.sh" denied the request: [${CONSTRAINT}] missing required labels: ["owner"]`);
  }

  const ok = await core.createNamespacedConfigMap({
    namespace: NS,
    dryRun: 'All',
    body: { metadata: { name: 'with-owner', labels: { owner: 'team-a' } }, data: { a: 'b' } },
  });
  assert.is(ok.metadata?.name, 'with-owner');
  // dry-run: nothing was persisted
  const list = await core.listNamespacedConfigMap({ namespace: NS });
  assert.not.ok(list.items.some((c) => c.metadata?.name === 'with-owner'));

  // The audit (every 5s here) reports the pre-existing violation in the constraint's status.
  const violations = await eventually('an audit result on the constraint', 30_000, async () => {
    const c = (await objects.read({ apiVersion: constraint.apiVersion, kind: KIND, metadata: { name: CONSTRAINT } })) as {
      status?: { totalViolations?: number; violations?: { name: string; namespace: string; message: string }[] };
    };
    return c.status?.totalViolations ? c.status.violations : undefined;
  });
  assert.equal(violations, [
    {
      enforcementAction: 'deny',
      group: '',
      kind: 'ConfigMap',
      message: 'missing required labels: ["owner"]',
      name: 'legacy-no-owner',
      namespace: NS,
      version: 'v1',
    },
  ]);
});

s.after(async () => {
  const kc = adminConfig();
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
  await quiet(objects.delete({ apiVersion: 'constraints.gatekeeper.sh/v1beta1', kind: KIND, metadata: { name: CONSTRAINT } }));
  await quiet(objects.delete({ apiVersion: 'templates.gatekeeper.sh/v1', kind: 'ConstraintTemplate', metadata: { name: TEMPLATE } }));
  // Without kube-controller-manager the namespace stays Terminating; harmless.
  await quiet(kc.makeApiClient(k8s.CoreV1Api).deleteNamespace({ name: NS }));
});

s.run();
