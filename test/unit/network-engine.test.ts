// Truth-table tests for the NetworkPolicy engine, modelled on the situations
// the upstream Kubernetes network-policy e2e suite covers (namespaces x/y/z,
// pods a/b/c, probes on ports 80/81 over TCP/UDP/SCTP).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadYaml, type V1NetworkPolicy } from '@kubernetes/client-node';
import { PolicyEngine, type Endpoint } from '../../functions/network-scan/engine.ts';
import type { NetworkPolicy, NetworkPolicySpec } from '../../lib/k8s/networkpolicy.ts';
import { matchesSelector, namespaceLabels, selectsAnyNamespace } from '../../lib/k8s/selectors.ts';
import type { LabelSelector, NamespaceInfo, Protocol } from '../../lib/k8s/types.ts';
import { cidrContains, compileIpBlock, formatIp, parseCidr, parseIp } from '../../lib/k8s/cidr.ts';
import { buildSyntheticStack, evaluateMatrix } from '../../bench/network-engine.ts';

const s = suite('network-engine');

// ---------------------------------------------------------------------------
// The world: three namespaces, pods a/b/c in each, plus external addresses.
// ---------------------------------------------------------------------------

const NAMESPACES: NamespaceInfo[] = [
  { name: 'x', labels: { team: 'alpha', env: 'prod' } },
  { name: 'y', labels: { team: 'beta', env: 'prod' } },
  { name: 'z', labels: { team: 'gamma' } },
  { name: 'kube-system', labels: {} },
];

const WEB_PORTS = [
  { name: 'serve-80-tcp', port: 80 },
  { name: 'serve-81-udp', port: 81, protocol: 'UDP' as Protocol },
  { name: 'serve-82-sctp', port: 82, protocol: 'SCTP' as Protocol },
];

const pod = (namespace: string, labels: Record<string, string>, ip: string): Endpoint => ({
  namespace,
  labels,
  ip,
  ports: WEB_PORTS,
});

const P = {
  xa: pod('x', { pod: 'a', app: 'web' }, '10.0.0.10'),
  xb: pod('x', { pod: 'b', app: 'client' }, '10.0.0.11'),
  xc: pod('x', { pod: 'c' }, '10.0.0.12'),
  ya: pod('y', { pod: 'a', app: 'client' }, '10.0.1.10'),
  yb: pod('y', { pod: 'b' }, '10.0.1.11'),
  za: pod('z', { pod: 'a', app: 'client' }, '10.0.2.10'),
  zb: pod('z', { pod: 'b' }, '10.0.2.11'),
  y6: pod('y', { pod: 'six' }, 'fd00:10::5'),
  xn: { namespace: 'x', labels: { pod: 'a', app: 'noports' }, ip: '10.0.0.13' } as Endpoint, // no named ports
  dns: pod('kube-system', { 'k8s-app': 'kube-dns' }, '10.0.9.53'),
  ext: { ip: '192.168.5.5' } as Endpoint,
  ext2: { ip: '8.8.8.8' } as Endpoint,
  ext6: { ip: '2001:db8:1::5' } as Endpoint,
  ext6b: { ip: '2001:db8:2::5' } as Endpoint,
};
type PodName = keyof typeof P;

const np = (namespace: string, name: string, spec: NetworkPolicySpec): NetworkPolicy => ({
  metadata: { namespace, name },
  spec,
});

const engine = (...policies: NetworkPolicy[]) => new PolicyEngine(policies, NAMESPACES);

// Frequently used policies.
const denyIngressX = np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const denyEgressX = np('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });
const toA = { matchLabels: { pod: 'a' } };
const ingressToXa = (ingress: NetworkPolicySpec['ingress']) => np('x', 'allow-to-a', { podSelector: toA, policyTypes: ['Ingress'], ingress });

// ---------------------------------------------------------------------------
// Table: [policies, src, dst, port, protocol] → expected (egress, ingress)
// ---------------------------------------------------------------------------

interface Case {
  readonly name: string;
  readonly policies: NetworkPolicy[];
  readonly probes: ReadonlyArray<readonly [src: PodName, dst: PodName, port: number | string, protocol: Protocol | undefined, allowed: boolean]>;
}

const CASES: Case[] = [
  {
    name: 'no policies: everything allowed, including external',
    policies: [],
    probes: [
      ['xa', 'ya', 80, 'TCP', true],
      ['ext', 'xa', 81, 'UDP', true],
      ['xa', 'ext', 443, 'TCP', true],
    ],
  },
  {
    name: 'deny all ingress in x',
    policies: [denyIngressX],
    probes: [
      ['xb', 'xa', 80, 'TCP', false],
      ['ya', 'xa', 80, 'TCP', false],
      ['ext', 'xa', 80, 'TCP', false],
      ['xa', 'ya', 80, 'TCP', true], // egress from x unaffected
      ['ya', 'yb', 80, 'TCP', true], // other namespaces unaffected
    ],
  },
  {
    name: 'deny all ingress via defaulted policyTypes (no ingress section)',
    policies: [np('x', 'deny', { podSelector: {} })],
    probes: [
      ['ya', 'xa', 80, 'TCP', false],
      ['xa', 'ya', 80, 'TCP', true],
    ],
  },
  {
    name: 'allow all ingress with one empty rule',
    policies: [np('x', 'allow-all', { podSelector: {}, ingress: [{}] })],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['ext', 'xa', 9999, 'UDP', true],
    ],
  },
  {
    name: 'policy selecting other pods does not isolate',
    policies: [np('x', 'deny-db', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'] })],
    probes: [['ya', 'xa', 80, 'TCP', true]],
  },
  {
    name: 'deny all ingress to pod a only',
    policies: [np('x', 'deny-a', { podSelector: toA, policyTypes: ['Ingress'] })],
    probes: [
      ['xb', 'xa', 80, 'TCP', false],
      ['xa', 'xb', 80, 'TCP', true],
    ],
  },
  {
    name: 'allow from same namespace (podSelector {})',
    policies: [np('x', 'same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
    probes: [
      ['xb', 'xa', 80, 'TCP', true],
      ['xc', 'xa', 81, 'UDP', true],
      ['ya', 'xa', 80, 'TCP', false],
      ['ext', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'allow from pods with a label in the same namespace',
    policies: [ingressToXa([{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }])],
    probes: [
      ['xb', 'xa', 80, 'TCP', true],
      ['xc', 'xa', 80, 'TCP', false],
      ['ya', 'xa', 80, 'TCP', false], // same labels, other namespace
    ],
  },
  {
    name: 'allow from namespace by label',
    policies: [ingressToXa([{ from: [{ namespaceSelector: { matchLabels: { team: 'beta' } } }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['yb', 'xa', 80, 'TCP', true],
      ['za', 'xa', 80, 'TCP', false],
      ['xb', 'xa', 80, 'TCP', false], // own namespace does not have team=beta
    ],
  },
  {
    name: 'allow from namespace by automatic kubernetes.io/metadata.name label',
    policies: [ingressToXa([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }])],
    probes: [
      ['za', 'xa', 80, 'TCP', true],
      ['ya', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'namespaceSelector {} allows all pods in all namespaces but not external IPs',
    policies: [ingressToXa([{ from: [{ namespaceSelector: {} }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['zb', 'xa', 80, 'TCP', true],
      ['xb', 'xa', 80, 'TCP', true],
      ['ext', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'podSelector AND namespaceSelector in one peer',
    policies: [ingressToXa([{ from: [{ namespaceSelector: { matchLabels: { env: 'prod' } }, podSelector: { matchLabels: { app: 'client' } } }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', true], // prod + client
      ['xb', 'xa', 80, 'TCP', true], // x is prod too
      ['yb', 'xa', 80, 'TCP', false], // prod, not client
      ['za', 'xa', 80, 'TCP', false], // client, not prod
    ],
  },
  {
    name: 'podSelector OR namespaceSelector as separate peers',
    policies: [ingressToXa([{ from: [{ namespaceSelector: { matchLabels: { team: 'beta' } } }, { podSelector: { matchLabels: { app: 'client' } } }] }])],
    probes: [
      ['yb', 'xa', 80, 'TCP', true], // namespace peer
      ['xb', 'xa', 80, 'TCP', true], // pod peer (same namespace)
      ['xc', 'xa', 80, 'TCP', false],
      ['za', 'xa', 80, 'TCP', false], // client, but the pod peer is namespace-local
    ],
  },
  {
    name: 'namespaceSelector {} with podSelector: label in any namespace',
    policies: [ingressToXa([{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'client' } } }] }])],
    probes: [
      ['za', 'xa', 80, 'TCP', true],
      ['ya', 'xa', 80, 'TCP', true],
      ['zb', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'matchExpressions In on namespaces',
    policies: [ingressToXa([{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['beta', 'gamma'] }] } }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['zb', 'xa', 80, 'TCP', true],
      ['xb', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'matchExpressions NotIn matches namespaces lacking the key',
    policies: [ingressToXa([{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] } }] }])],
    probes: [
      ['za', 'xa', 80, 'TCP', true], // z has no env label
      ['ya', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'matchExpressions Exists on pods',
    policies: [ingressToXa([{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } }] }])],
    probes: [
      ['xb', 'xa', 80, 'TCP', true],
      ['xc', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'matchExpressions DoesNotExist on pods',
    policies: [ingressToXa([{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] } }] }])],
    probes: [
      ['xc', 'xa', 80, 'TCP', true],
      ['xb', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'policy podSelector with matchExpressions selects the target',
    policies: [
      np('x', 'deny-non-clients', {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['client'] }] },
        policyTypes: ['Ingress'],
      }),
    ],
    probes: [
      ['ya', 'xa', 80, 'TCP', false], // app=web selected
      ['ya', 'xc', 80, 'TCP', false], // no app label: NotIn selects it
      ['ya', 'xb', 80, 'TCP', true], // app=client not selected
    ],
  },
  {
    name: 'numeric port: only that port and protocol',
    policies: [ingressToXa([{ ports: [{ port: 80 }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['ya', 'xa', 81, 'TCP', false],
      ['ya', 'xa', 80, 'UDP', false], // default protocol is TCP
      ['ya', 'xa', 80, 'SCTP', false],
    ],
  },
  {
    name: 'numeric port with from: both must match',
    policies: [ingressToXa([{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 80 }] }])],
    probes: [
      ['xb', 'xa', 80, 'TCP', true],
      ['xb', 'xa', 81, 'TCP', false],
      ['xc', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'rules are ORed: port rule and peer rule separately',
    policies: [ingressToXa([{ ports: [{ port: 81 }] }, { from: [{ podSelector: { matchLabels: { app: 'client' } } }] }])],
    probes: [
      ['xc', 'xa', 81, 'TCP', true], // first rule
      ['xb', 'xa', 80, 'TCP', true], // second rule
      ['xc', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'empty ports list = all ports',
    policies: [ingressToXa([{ from: [{ podSelector: {} }], ports: [] }])],
    probes: [
      ['xb', 'xa', 80, 'TCP', true],
      ['xb', 'xa', 12345, 'UDP', true],
    ],
  },
  {
    name: 'named port (ingress) resolves on the destination pod',
    policies: [ingressToXa([{ ports: [{ port: 'serve-80-tcp' }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['ya', 'xa', 'serve-80-tcp', undefined, true],
      ['ya', 'xa', 81, 'TCP', false],
      ['ya', 'xa', 80, 'UDP', false],
      ['ya', 'xn', 80, 'TCP', false], // the source has serve-80-tcp, the destination does not
    ],
  },
  {
    name: 'named UDP port needs protocol UDP in the rule',
    policies: [ingressToXa([{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }])],
    probes: [
      ['ya', 'xa', 81, 'UDP', true],
      ['ya', 'xa', 'serve-81-udp', undefined, true], // protocol taken from the container port
      ['ya', 'xa', 81, 'TCP', false],
    ],
  },
  {
    name: 'named port with mismatched protocol never matches',
    policies: [ingressToXa([{ ports: [{ port: 'serve-81-udp' }] }])], // rule defaults to TCP
    probes: [
      ['ya', 'xa', 81, 'UDP', false],
      ['ya', 'xa', 81, 'TCP', false],
    ],
  },
  {
    name: 'named port absent on the pod matches nothing',
    policies: [ingressToXa([{ ports: [{ port: 'grpc' }] }])],
    probes: [
      ['ya', 'xa', 80, 'TCP', false],
      ['ya', 'xa', 9090, 'TCP', false],
    ],
  },
  {
    name: 'unresolvable named probe only matches port-less rules',
    policies: [ingressToXa([{ ports: [{ port: 80 }] }]), np('x', 'udp-all', { podSelector: toA, ingress: [{ ports: [{ protocol: 'UDP' }] }] })],
    probes: [
      ['ya', 'xa', 'nope', 'TCP', false],
      ['ya', 'xa', 'nope', 'UDP', true],
    ],
  },
  {
    name: 'endPort range is inclusive',
    policies: [ingressToXa([{ ports: [{ port: 80, endPort: 85 }] }])],
    probes: [
      ['ya', 'xa', 79, 'TCP', false],
      ['ya', 'xa', 80, 'TCP', true],
      ['ya', 'xa', 83, 'TCP', true],
      ['ya', 'xa', 85, 'TCP', true],
      ['ya', 'xa', 86, 'TCP', false],
      ['ya', 'xa', 83, 'UDP', false],
    ],
  },
  {
    name: 'endPort range with UDP',
    policies: [ingressToXa([{ ports: [{ port: 30000, endPort: 32767, protocol: 'UDP' }] }])],
    probes: [
      ['ya', 'xa', 31000, 'UDP', true],
      ['ya', 'xa', 31000, 'TCP', false],
      ['ya', 'xa', 32768, 'UDP', false],
    ],
  },
  {
    name: 'port entry without port = all ports of that protocol',
    policies: [ingressToXa([{ ports: [{ protocol: 'UDP' }] }])],
    probes: [
      ['ya', 'xa', 81, 'UDP', true],
      ['ya', 'xa', 53, 'UDP', true],
      ['ya', 'xa', 81, 'TCP', false],
    ],
  },
  {
    name: 'SCTP port does not admit TCP or UDP',
    policies: [ingressToXa([{ ports: [{ port: 82, protocol: 'SCTP' }] }])],
    probes: [
      ['ya', 'xa', 82, 'SCTP', true],
      ['ya', 'xa', 82, 'TCP', false],
      ['ya', 'xa', 82, 'UDP', false],
    ],
  },
  {
    name: 'UDP and TCP on the same port are separate',
    policies: [ingressToXa([{ ports: [{ port: 53, protocol: 'UDP' }] }])],
    probes: [
      ['ya', 'xa', 53, 'UDP', true],
      ['ya', 'xa', 53, 'TCP', false],
    ],
  },
  {
    name: 'ipBlock with except (IPv4), ingress from pods and external',
    policies: [ingressToXa([{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] } }] }])],
    probes: [
      ['xb', 'xa', 80, 'TCP', true], // 10.0.0.11
      ['za', 'xa', 80, 'TCP', true], // 10.0.2.10
      ['ya', 'xa', 80, 'TCP', false], // 10.0.1.10 excepted
      ['ext', 'xa', 80, 'TCP', false], // 192.168.5.5 outside
    ],
  },
  {
    name: 'ipBlock 0.0.0.0/0 except RFC1918 admits public IPs only',
    policies: [ingressToXa([{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }] }])],
    probes: [
      ['ext2', 'xa', 80, 'TCP', true],
      ['ext', 'xa', 80, 'TCP', false],
      ['ya', 'xa', 80, 'TCP', false],
      ['ext6', 'xa', 80, 'TCP', false], // IPv6 never inside an IPv4 block
    ],
  },
  {
    name: 'ipBlock with except (IPv6)',
    policies: [ingressToXa([{ from: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } }] }])],
    probes: [
      ['ext6b', 'xa', 80, 'TCP', true],
      ['ext6', 'xa', 80, 'TCP', false],
      ['ext', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'ipBlock (IPv6) matches a pod IP',
    policies: [ingressToXa([{ from: [{ ipBlock: { cidr: 'fd00:10::/64' } }] }])],
    probes: [
      ['y6', 'xa', 80, 'TCP', true],
      ['ya', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'default deny egress',
    policies: [denyEgressX],
    probes: [
      ['xa', 'ya', 80, 'TCP', false],
      ['xa', 'xb', 80, 'TCP', false],
      ['xa', 'ext', 443, 'TCP', false],
      ['ya', 'xa', 80, 'TCP', true], // ingress to x not isolated
    ],
  },
  {
    name: 'default deny egress with DNS allowed',
    policies: [
      np('x', 'deny-egress-but-dns', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
            ],
            ports: [
              { port: 53, protocol: 'UDP' },
              { port: 53, protocol: 'TCP' },
            ],
          },
        ],
      }),
    ],
    probes: [
      ['xa', 'dns', 53, 'UDP', true],
      ['xa', 'dns', 53, 'TCP', true],
      ['xa', 'dns', 54, 'UDP', false],
      ['xa', 'ya', 53, 'UDP', false],
    ],
  },
  {
    name: 'egress to a namespace by label on a port',
    policies: [
      np('x', 'egress-to-beta', {
        podSelector: toA,
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'beta' } } }], ports: [{ port: 80 }] }],
      }),
    ],
    probes: [
      ['xa', 'ya', 80, 'TCP', true],
      ['xa', 'ya', 81, 'TCP', false],
      ['xa', 'za', 80, 'TCP', false],
      ['xb', 'za', 80, 'TCP', true], // xb not selected
    ],
  },
  {
    name: 'egress named port resolves on the destination pod',
    policies: [np('x', 'egress-named', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
    probes: [
      ['xa', 'ya', 80, 'TCP', true],
      ['xa', 'ya', 81, 'TCP', false],
      ['xa', 'ext', 80, 'TCP', false], // external destination has no named ports
      ['xa', 'ext', 'serve-80-tcp', 'TCP', false], // not even when probed by name
      ['xa', 'xn', 80, 'TCP', false], // destination pod without that named port
    ],
  },
  {
    name: 'egress ipBlock to external, selectors never match external IPs',
    policies: [
      np('x', 'egress-ext', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: {} }] }, { to: [{ ipBlock: { cidr: '8.8.8.0/24' } }], ports: [{ port: 443 }] }],
      }),
    ],
    probes: [
      ['xa', 'ext2', 443, 'TCP', true],
      ['xa', 'ext2', 80, 'TCP', false],
      ['xa', 'ext', 443, 'TCP', false],
      ['xa', 'za', 80, 'TCP', true],
    ],
  },
  {
    name: 'egress with IPv6 ipBlock except',
    policies: [
      np('x', 'egress-v6', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } }] }],
      }),
    ],
    probes: [
      ['xa', 'ext6b', 443, 'TCP', true],
      ['xa', 'ext6', 443, 'TCP', false],
    ],
  },
  {
    name: 'egress-only policy does not isolate ingress',
    policies: [np('x', 'egress-only', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] })],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['xa', 'ya', 80, 'TCP', true],
    ],
  },
  {
    name: 'defaulted policyTypes with egress rules: Ingress + Egress',
    policies: [np('x', 'both', { podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] })],
    probes: [
      ['ya', 'xa', 80, 'TCP', false], // ingress isolated, no rules
      ['xa', 'xb', 80, 'TCP', false], // egress allowed but xb ingress denied
      ['xa', 'ya', 80, 'TCP', false], // egress only within x
    ],
  },
  {
    name: 'defaulted policyTypes with empty egress list: Ingress only',
    policies: [np('x', 'ingress-only', { podSelector: {}, ingress: [{}], egress: [] })],
    probes: [['xa', 'ya', 80, 'TCP', true]],
  },
  {
    name: 'explicit policyTypes [Ingress] ignores egress rules',
    policies: [np('x', 'explicit', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}], egress: [{ ports: [{ port: 1 }] }] })],
    probes: [['xa', 'ya', 80, 'TCP', true]],
  },
  {
    name: 'explicit policyTypes [Egress] ignores ingress rules and denies egress',
    policies: [np('x', 'explicit', { podSelector: {}, policyTypes: ['Egress'], ingress: [{ ports: [{ port: 1 }] }] })],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['xa', 'ya', 80, 'TCP', false],
    ],
  },
  {
    name: 'multiple policies: union of allows',
    policies: [
      denyIngressX,
      np('x', 'from-beta', { podSelector: toA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'beta' } } }] }] }),
      np('x', 'from-clients', { podSelector: toA, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] }),
    ],
    probes: [
      ['ya', 'xa', 80, 'TCP', true],
      ['xb', 'xa', 80, 'TCP', true],
      ['za', 'xa', 80, 'TCP', false],
      ['xc', 'xa', 80, 'TCP', false],
      ['ya', 'xb', 80, 'TCP', false], // xb only has the deny-all
    ],
  },
  {
    name: 'policies in other namespaces never select the pod',
    policies: [np('y', 'deny-y', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    probes: [
      ['xa', 'xb', 80, 'TCP', true],
      ['xa', 'ya', 80, 'TCP', false],
      ['ya', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'both sides required: egress allowed, ingress denied',
    policies: [
      np('x', 'egress-any', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }),
      np('y', 'deny-in', { podSelector: {}, policyTypes: ['Ingress'] }),
    ],
    probes: [['xa', 'ya', 80, 'TCP', false]],
  },
  {
    name: 'both sides required: ingress allowed, egress denied',
    policies: [denyEgressX, np('y', 'allow-in', { podSelector: {}, ingress: [{}] })],
    probes: [['xa', 'ya', 80, 'TCP', false]],
  },
  {
    name: 'both sides required: both allow',
    policies: [
      np('x', 'egress-to-y', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'beta' } } }] }] }),
      np('y', 'from-x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'alpha' } } }] }] }),
    ],
    probes: [
      ['xa', 'ya', 80, 'TCP', true],
      ['xa', 'za', 80, 'TCP', false],
      ['za', 'ya', 80, 'TCP', false],
    ],
  },
  {
    name: 'external source: only ingress applies',
    policies: [ingressToXa([{ from: [{ ipBlock: { cidr: '192.168.0.0/16' } }], ports: [{ port: 80 }] }])],
    probes: [
      ['ext', 'xa', 80, 'TCP', true],
      ['ext', 'xa', 81, 'TCP', false],
      ['ext2', 'xa', 80, 'TCP', false],
    ],
  },
  {
    name: 'empty peer (invalid) matches nothing',
    policies: [ingressToXa([{ from: [{}] }])],
    probes: [['xb', 'xa', 80, 'TCP', false]],
  },
  {
    name: 'unknown selector operator matches nothing',
    policies: [ingressToXa([{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] } }] }])],
    probes: [['xb', 'xa', 80, 'TCP', false]],
  },
];

for (const c of CASES) {
  s(`table: ${c.name}`, () => {
    const e = engine(...c.policies);
    for (const [src, dst, port, protocol, allowed] of c.probes) {
      const v = e.evaluate(P[src], P[dst], port, protocol);
      assert.is(v.allowed, allowed, `${src} → ${dst}:${protocol ?? '?'}/${port}: ${v.egress.reason} | ${v.ingress.reason}`);
      assert.is(v.allowed, v.egress.allowed && v.ingress.allowed, 'overall = egress AND ingress');
    }
  });
}

// ---------------------------------------------------------------------------
// Direction verdicts: isolation, selecting, allowedBy, reasons
// ---------------------------------------------------------------------------

s('not isolated: both directions allowed, nothing selecting', () => {
  const v = engine(denyIngressX).evaluate(P.ya, P.yb, 80);
  assert.equal([v.egress.isolated, v.ingress.isolated, v.egress.selecting, v.ingress.selecting, v.egress.allowedBy], [false, false, [], [], []]);
  assert.match(v.ingress.reason, /^not isolated: no policy in ns 'y' selects the destination pod for ingress/);
  assert.match(v.egress.reason, /^not isolated: no policy in ns 'y' selects the source pod for egress/);
});

s('deny-all: isolated, selecting lists the policy, allowedBy empty, reason names it', () => {
  const v = engine(denyIngressX).evaluate(P.ya, P.xa, 80);
  assert.is(v.ingress.allowed, false);
  assert.is(v.ingress.isolated, true);
  assert.equal(v.ingress.selecting, [{ namespace: 'x', name: 'deny-ingress' }]);
  assert.equal(v.ingress.allowedBy, []);
  assert.is(v.ingress.reason, "no ingress rule of 1 selecting policy in ns 'x' (deny-ingress) allows TCP/80 from pod y/{pod=a,app=client} (10.0.1.10)");
  assert.is(v.egress.allowed, true);
});

s('egress denial reason counts selecting policies and describes the destination', () => {
  const e = engine(denyEgressX, np('x', 'egress-dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] }));
  const v = e.evaluate(P.xa, P.ya, 5432);
  assert.is(v.egress.allowed, false);
  assert.is(
    v.egress.reason,
    "no egress rule of 2 selecting policies in ns 'x' (deny-egress, egress-dns) allows TCP/5432 to pod y/{pod=a,app=client} (10.0.1.10)",
  );
  const ext = e.evaluate(P.xa, P.ext, 443);
  assert.match(ext.egress.reason, /allows TCP\/443 to external 192\.168\.5\.5$/);
});

s('union: allowedBy lists exactly the allowing policies and rule indexes', () => {
  const e = engine(
    denyIngressX,
    np('x', 'from-beta', { podSelector: {}, ingress: [{ ports: [{ port: 1 }] }, { from: [{ namespaceSelector: { matchLabels: { team: 'beta' } } }] }] }),
    np('x', 'from-all', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
  );
  const v = e.evaluate(P.ya, P.xa, 80);
  assert.is(v.allowed, true);
  assert.equal(
    v.ingress.selecting.map((r) => r.name),
    ['deny-ingress', 'from-beta', 'from-all'],
  );
  assert.equal(
    v.ingress.allowedBy.map((r) => r.name),
    ['from-beta', 'from-all'],
  );
  assert.is(v.ingress.reason, 'TCP/80 from pod y/{pod=a,app=client} (10.0.1.10) allowed by x/from-beta ingress[1]; x/from-all ingress[0]');
  const z = e.evaluate(P.za, P.xa, 80);
  assert.equal(
    z.ingress.allowedBy.map((r) => r.name),
    ['from-all'],
  );
});

s('named port probe: label shows the resolved number and protocol comes from the container port', () => {
  const v = engine(np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })).evaluate(P.ya, P.xa, 'serve-81-udp');
  assert.match(v.ingress.reason, /allows UDP\/serve-81-udp\(81\) from/);
});

s('external endpoints are never isolated', () => {
  const e = engine(denyIngressX, denyEgressX);
  const inbound = e.evaluate(P.ext, P.ya, 80);
  assert.equal([inbound.egress.isolated, inbound.egress.allowed], [false, true]);
  assert.match(inbound.egress.reason, /source is outside the cluster/);
  const outbound = e.evaluate(P.ya, P.ext, 80);
  assert.match(outbound.ingress.reason, /destination is outside the cluster/);
});

s('verdicts serialise with their (lazily built) reasons', () => {
  const v = engine(denyIngressX).evaluate(P.ya, P.xa, 80);
  const json = JSON.parse(JSON.stringify(v));
  assert.is(json.ingress.reason, v.ingress.reason);
  assert.is(json.egress.reason, v.egress.reason);
});

s('selectingPolicies per direction', () => {
  const e = engine(denyIngressX, denyEgressX, np('x', 'a-only', { podSelector: toA, egress: [{}] }));
  assert.equal(
    e.selectingPolicies(P.xa, 'ingress').map((r) => r.name),
    ['deny-ingress', 'a-only'],
  );
  assert.equal(
    e.selectingPolicies(P.xa, 'egress').map((r) => r.name),
    ['deny-egress', 'a-only'],
  );
  assert.equal(
    e.selectingPolicies(P.xb, 'egress').map((r) => r.name),
    ['deny-egress'],
  );
  assert.equal(e.selectingPolicies(P.ext, 'ingress'), []);
});

// ---------------------------------------------------------------------------
// Inputs: client-node objects, defaults, namespaces
// ---------------------------------------------------------------------------

s('client-node V1NetworkPolicy from loadYaml (ingress `_from`) is understood', () => {
  const policy = loadYaml<V1NetworkPolicy>(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: from-beta, namespace: x }
spec:
  podSelector: { matchLabels: { pod: a } }
  ingress:
  - from: [{ namespaceSelector: { matchLabels: { team: beta } } }]
    ports: [{ port: 80, protocol: TCP }]
  egress:
  - to: [{ ipBlock: { cidr: 10.0.0.0/8, except: [10.0.2.0/24] } }]
`);
  // biome-ignore lint/correctness/noUnsafeOptionalChaining: a missing rule fails the assertion either way
  assert.ok(Array.isArray((policy.spec?.ingress?.[0] as { _from?: unknown })._from), 'client-node renames from → _from');
  const e = new PolicyEngine([policy], NAMESPACES);
  assert.is(e.evaluate(P.ya, P.xa, 80).allowed, true);
  assert.is(e.evaluate(P.za, P.xa, 80).allowed, false);
  assert.is(e.evaluate(P.xa, P.ya, 80).allowed, true);
  assert.is(e.evaluate(P.xa, P.za, 80).allowed, false);
  assert.is(e.evaluate(P.xa, P.ext2, 80).allowed, false);
});

s('typed V1NetworkPolicy literals are accepted', () => {
  const policy: V1NetworkPolicy = {
    metadata: { name: 'p', namespace: 'y' },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ _from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] },
  };
  const e = new PolicyEngine([policy], NAMESPACES);
  assert.is(e.evaluate(P.yb, P.ya, 80).allowed, true);
  assert.is(e.evaluate(P.xa, P.ya, 80).allowed, false);
});

s('policy defaults: missing namespace is "default", missing podSelector selects all, null fields ignored', () => {
  const e = new PolicyEngine([{ metadata: { name: 'no-ns' }, spec: { policyTypes: null, ingress: null } }], [...NAMESPACES, { name: 'default' }]);
  const d = pod('default', { app: 'anything' }, '10.0.7.7');
  const v = e.evaluate(P.xa, d, 80);
  assert.is(v.ingress.allowed, false);
  assert.equal(v.ingress.selecting, [{ namespace: 'default', name: 'no-ns' }]);
});

s('namespace labels: automatic name label added, explicit value kept, unknown namespaces get only the name', () => {
  assert.equal(namespaceLabels({ name: 'a', labels: { t: '1' } }), { t: '1', 'kubernetes.io/metadata.name': 'a' });
  assert.equal(namespaceLabels({ name: 'a', labels: { 'kubernetes.io/metadata.name': 'a' } }), { 'kubernetes.io/metadata.name': 'a' });
  assert.equal(namespaceLabels({ name: 'a' }), { 'kubernetes.io/metadata.name': 'a' });
  const e = engine(ingressToXa([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ghost' } } }] }]));
  assert.is(e.evaluate(pod('ghost', {}, '10.9.9.9'), P.xa, 80).allowed, true);
  assert.is(e.evaluate(pod('ghost2', {}, '10.9.9.9'), P.xa, 80).allowed, false);
});

s('warnings for constructs the API server would reject', () => {
  const e = engine(
    np('x', 'bad', {
      podSelector: { matchExpressions: [{ key: 'a', operator: 'Gt' }] },
      ingress: [
        { from: [{}, { ipBlock: { cidr: '10.0.0.0/33' } }, { ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] },
        {
          ports: [
            { port: 'http', endPort: 90 },
            { port: 90, endPort: 80 },
            { port: 1, protocol: 'ICMP' },
          ],
        },
      ],
    }),
  );
  const w = e.warnings.join('\n');
  for (const expected of [
    "x/bad podSelector: unknown operator 'Gt'",
    'x/bad ingress[0] peer[0]: empty peer matches nothing',
    'x/bad ingress[0] peer[1]: invalid CIDR in ipBlock',
    'x/bad ingress[0] peer[2]: ipBlock combined with a selector',
    "x/bad ingress[1] ports[0]: endPort ignored with named port 'http'",
    'x/bad ingress[1] ports[1]: endPort 80 < port 90 matches nothing',
    "x/bad ingress[1] ports[2]: unknown protocol 'ICMP'",
  ]) {
    assert.ok(w.includes(expected), `missing warning: ${expected}\n${w}`);
  }
  assert.equal(engine(denyIngressX).warnings, []);
});

// ---------------------------------------------------------------------------
// matchesSelector and selectsAnyNamespace
// ---------------------------------------------------------------------------

const SELECTOR_CASES: ReadonlyArray<readonly [string, LabelSelector, Record<string, string>, boolean]> = [
  ['empty selector, empty labels', {}, {}, true],
  ['empty selector, any labels', {}, { a: '1' }, true],
  ['null parts act as empty', { matchLabels: null, matchExpressions: null }, { a: '1' }, true],
  ['matchLabels hit', { matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
  ['matchLabels wrong value', { matchLabels: { a: '1' } }, { a: '2' }, false],
  ['matchLabels missing key', { matchLabels: { a: '1' } }, {}, false],
  ['matchLabels all pairs needed', { matchLabels: { a: '1', b: '2' } }, { a: '1' }, false],
  ['matchLabels empty value', { matchLabels: { a: '' } }, { a: '' }, true],
  ['prototype keys are not labels', { matchLabels: { toString: 'x' } }, {}, false],
  ['In hit', { matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '2' }, true],
  ['In miss', { matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '3' }, false],
  ['In absent key', { matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }, {}, false],
  ['In empty values', { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, { a: '1' }, false],
  ['NotIn hit', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '2' }, true],
  ['NotIn miss', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '1' }, false],
  ['NotIn absent key matches', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { b: '1' }, true],
  ['Exists hit', { matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { a: '' }, true],
  ['Exists miss', { matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { b: '1' }, false],
  ['DoesNotExist hit', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { b: '1' }, true],
  ['DoesNotExist miss', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '1' }, false],
  ['unknown operator', { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['0'] }] }, { a: '1' }, false],
  [
    'expressions are ANDed',
    {
      matchExpressions: [
        { key: 'a', operator: 'Exists' },
        { key: 'b', operator: 'DoesNotExist' },
      ],
    },
    { a: '1', b: '1' },
    false,
  ],
  ['matchLabels AND matchExpressions', { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }] }, { a: '1', b: '2' }, true],
  [
    'matchLabels AND matchExpressions, one fails',
    { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }] },
    { a: '0', b: '2' },
    false,
  ],
];

for (const [name, selector, labels, expected] of SELECTOR_CASES) {
  s(`matchesSelector: ${name}`, () => assert.is(matchesSelector(selector, labels), expected));
}

s('matchesSelector: undefined labels are empty', () => {
  assert.is(matchesSelector({}, undefined), true);
  assert.is(matchesSelector({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, undefined), true);
  assert.is(matchesSelector({ matchLabels: { a: '1' } }, undefined), false);
});

s('selectsAnyNamespace', () => {
  assert.is(selectsAnyNamespace({ matchLabels: { team: 'beta' } }, NAMESPACES), true);
  assert.is(selectsAnyNamespace({ matchLabels: { team: 'omega' } }, NAMESPACES), false);
  assert.is(selectsAnyNamespace({ matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, NAMESPACES), true);
  assert.is(selectsAnyNamespace({ matchLabels: { 'kubernetes.io/metadata.name': 'kube-public' } }, NAMESPACES), false);
  assert.is(selectsAnyNamespace({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, NAMESPACES), true);
  assert.is(selectsAnyNamespace({}, NAMESPACES), true);
  assert.is(selectsAnyNamespace({}, []), false);
});

// ---------------------------------------------------------------------------
// CIDR arithmetic
// ---------------------------------------------------------------------------

const IP_CASES: ReadonlyArray<readonly [string, string | undefined]> = [
  ['10.0.0.1', '10.0.0.1'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['256.0.0.1', undefined],
  ['10.0.0', undefined],
  ['10.0.0.01', undefined], // leading zeros are ambiguous (octal)
  ['::', '::'],
  ['::1', '::1'],
  ['2001:db8::', '2001:db8::'],
  ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['fe80::1:2:3:4:5', 'fe80::1:2:3:4:5'],
  ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ['::ffff:10.0.0.1', '10.0.0.1'], // IPv4-mapped → IPv4
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ['1:2:3:4:5:6:7:8:9', undefined],
  ['1::2::3', undefined],
  ['12345::', undefined],
  ['1:2:3:4:5:6:7', undefined],
  ['::g', undefined],
  ['fe80::1%eth0', undefined],
  ['', undefined],
];

for (const [text, expected] of IP_CASES) {
  s(`parseIp: '${text}'`, () => {
    const ip = parseIp(text);
    assert.is(ip && formatIp(ip), expected);
  });
}

const CIDR_CASES: ReadonlyArray<readonly [cidr: string, ip: string, inside: boolean]> = [
  ['10.0.0.0/8', '10.255.255.255', true],
  ['10.0.0.0/8', '11.0.0.0', false],
  ['10.0.0.7/8', '10.1.2.3', true], // host bits cleared
  ['0.0.0.0/0', '203.0.113.9', true],
  ['0.0.0.0/0', '::1', false],
  ['192.168.1.1/32', '192.168.1.1', true],
  ['192.168.1.1/32', '192.168.1.2', false],
  ['172.16.0.0/12', '172.31.255.255', true],
  ['172.16.0.0/12', '172.32.0.0', false],
  ['::/0', '2001:db8::1', true],
  ['::/0', '10.0.0.1', false],
  ['2001:db8::/32', '2001:db8:ffff:ffff::1', true],
  ['2001:db8::/32', '2001:db9::', false],
  ['2001:db8::/127', '2001:db8::1', true],
  ['2001:db8::/127', '2001:db8::2', false],
  ['2001:db8::1/128', '2001:db8::1', true],
  ['fd00::/8', 'fdff::1', true],
  ['10.0.0.0/8', '::ffff:10.1.1.1', true], // IPv4-mapped address treated as IPv4
];

for (const [cidr, ip, inside] of CIDR_CASES) {
  s(`cidrContains: ${cidr} ∋ ${ip} = ${inside}`, () => {
    const c = parseCidr(cidr);
    const a = parseIp(ip);
    assert.ok(c && a);
    assert.is(cidrContains(c, a), inside);
  });
}

s('parseCidr rejects malformed CIDRs', () => {
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/-1', 'x/8', '10.0.0.0/8/8', '::/']) {
    assert.is(parseCidr(bad), undefined, bad);
  }
  assert.equal(parseCidr('10.0.0.7/8'), { family: 4, prefix: 8, network: 10n << 24n, mask: 0xff000000n });
});

s('compileIpBlock: except carve-outs, invalid CIDRs', () => {
  const b = compileIpBlock('10.0.0.0/16', ['10.0.1.0/24', '10.0.2.128/25']);
  const at = (ip: string) => b.contains(parseIp(ip)!);
  assert.equal(['10.0.0.1', '10.0.1.1', '10.0.2.1', '10.0.2.200', '10.1.0.0'].map(at), [true, false, true, false, false]);
  assert.is(b.valid, true);
  const bad = compileIpBlock('nope');
  assert.equal([bad.valid, bad.contains(parseIp('10.0.0.1')!)], [false, false]);
  const badExcept = compileIpBlock('10.0.0.0/8', ['bogus']);
  assert.equal([badExcept.valid, badExcept.contains(parseIp('10.0.0.1')!)], [false, true]);
});

// ---------------------------------------------------------------------------
// Scale: the synthetic 1,000-policy / 100-namespace matrix
// ---------------------------------------------------------------------------

// Its speed (target < 1 s) is measured by `npm run bench`, never asserted here.
s('scale: 1,000 policies × 100 namespaces, full 100×100 matrix: mixed and deterministic', () => {
  const stack = buildSyntheticStack();
  assert.is(stack.policies.length, 1000);
  assert.is(stack.namespaces.length, 100);
  const e = new PolicyEngine(stack.policies, stack.namespaces);
  const allowed = evaluateMatrix(e, stack.pods, 8080);
  assert.ok(allowed > 0 && allowed < 10_000, `a mixed matrix, got ${allowed} allowed`);
  assert.is(evaluateMatrix(new PolicyEngine(buildSyntheticStack().policies, stack.namespaces), stack.pods, 8080), allowed, 'deterministic');
});

s.run();
