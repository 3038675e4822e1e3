/**
 * The parts of @kubernetes/client-node the scans use. client.ts imports this module
 * dynamically, on the first makeKube: a bundle keeps only these classes (tree-shaken) and
 * evaluates them only then, so a function's start and its /healthz never load client-node.
 */
export { CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
