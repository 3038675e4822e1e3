/**
 * Which cluster a scan run talked to: runScan runs each scan inside `trackKube`, and makeKube
 * notes the first client it hands out there. A finished run's reports are written with that
 * same client (same cluster, same identity), whatever started the run.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Kube } from './client.ts';

const used = new AsyncLocalStorage<{ kube?: Kube }>();

export function trackKube<T>(fn: () => Promise<T>): { result: Promise<T>; kube: () => Kube | undefined } {
  const store: { kube?: Kube } = {};
  return { result: used.run(store, fn), kube: () => store.kube };
}

export function noteKube(kube: Kube): void {
  const s = used.getStore();
  if (s && !s.kube) s.kube = kube;
}
