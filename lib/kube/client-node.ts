/**
 * The part of @kubernetes/client-node still used: KubeConfig, for kubeconfigs lib/kube/kubeconfig.ts does not handle. client.ts imports this module
 * dynamically, on the first makeKube: a bundle keeps only these classes (tree-shaken) and
 * evaluates them only then, so a function's start and its /healthz never load client-node.
 */
export { KubeConfig } from '@kubernetes/client-node';
