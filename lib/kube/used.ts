/**
 * Which cluster a scan run talked to: runScan runs each scan inside `trackKube`, and makeKube
 * notes the first client it hands out there. A finished run's reports are written with that
 * same client (same cluster, same identity), whatever started the run.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestOptions } from 'node:https';

/** The shape of lib/kube/client.ts's Kube (named here so this file imports nothing of the client). */
export interface TrackedKube {
  server: string;
  applyTo(opts: RequestOptions): Promise<void>;
}

const used = new AsyncLocalStorage<{ kube?: TrackedKube }>();

export function trackKube<T>(fn: () => Promise<T>): { result: Promise<T>; kube: () => TrackedKube | undefined } {
  const store: { kube?: TrackedKube } = {};
  return { result: used.run(store, fn), kube: () => store.kube };
}

export function noteKube(kube: TrackedKube): void {
  const s = used.getStore();
  if (s && !s.kube) s.kube = kube;
}
