/**
 * The deploy part of the demo: the third way of use, CloudEvents, against the combined
 * server the demo already runs (as a Knative Broker's Trigger would deliver them), and what
 * `kubectl apply -k knative/overlays/example` would create (rendered by the real kustomize
 * when `bash harness/build.sh kustomize` has built it). No ../shared needed.
 *
 *   import { deployDemo } from './deploy.ts';
 *   const { failed, events, knative } = await deployDemo({ base: 'http://127.0.0.1:<port>', log });
 *
 * `base` serves combinedApp with the network and opa scans mounted (demo/demo.ts).
 */
import { CloudEvent, HTTP, type CloudEventV1 } from 'cloudevents';
import { REQUESTED_TYPE } from '../lib/scan/events.ts';
import { EXAMPLE_OVERLAY, kustomizeBuild, kustomizeMissing } from '../knative/render.ts';

export interface DeployDemoOptions {
  /** URL of a running combined server (npm start, or the demo's). */
  base: string;
  log?: (line: string) => void;
  /** Render knative/ with kustomize (default true; false when the demo left that part out). */
  render?: boolean;
}

export interface DeployDemoResult {
  failed: boolean;
  /** One line on the events sent and their replies. */
  events: string;
  /** What `kubectl apply -k knative/overlays/example` would create, or why it was not rendered. */
  knative: { ok: boolean; detail: string };
}

async function send(
  base: string,
  message: { headers: Record<string, unknown>; body: unknown },
): Promise<{ status: number; event?: CloudEventV1<any>; error?: string }> {
  const res = await fetch(`${base}/`, { method: 'POST', headers: message.headers as Record<string, string>, body: message.body as string });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, error: JSON.parse(text).error?.message };
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  const ev = HTTP.toEvent<any>({ headers, body: text });
  return { status: res.status, event: Array.isArray(ev) ? ev[0] : ev };
}

export async function deployDemo(opts: DeployDemoOptions): Promise<DeployDemoResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  let failed = false;
  const replies: string[] = [];
  const requests: [string, 'binary' | 'structured', string][] = [
    ['network', 'binary', 'light'],
    ['opa', 'structured', 'light'],
  ];
  for (const [scan, mode, scanMode] of requests) {
    const ev = new CloudEvent({
      type: REQUESTED_TYPE,
      source: '/stack-scan/demo',
      subject: 'demo stack',
      datacontenttype: 'application/json',
      data: { mode: scanMode },
      scan,
    });
    const r = await send(opts.base, mode === 'binary' ? HTTP.binary(ev) : HTTP.structured(ev));
    if (!r.event) {
      failed = true;
      log(`event ${scan} (${mode} mode): HTTP ${r.status} ${r.error ?? ''}`);
      continue;
    }
    const d = r.event.data;
    log(
      `event ${REQUESTED_TYPE} scan=${scan} (${mode} mode) → ${r.event.type} from ${r.event.source}, subject ${r.event.subject}: score ` +
        `${d?.score ?? d?.error?.message}`,
    );
    replies.push(`${scan} (${mode}) → ${r.event.type.replace('io.stacktic.scan.', '')}, score ${d?.score ?? d?.error?.message}`);
    if (r.event.type !== 'io.stacktic.scan.completed') failed = true;
  }
  const wrong = await send(
    opts.base,
    HTTP.binary(new CloudEvent({ type: REQUESTED_TYPE, source: '/stack-scan/demo', data: { mode: 'deep' }, scan: 'network' })),
  );
  log(`a wrong mode: HTTP ${wrong.status}: ${wrong.error}`);
  if (wrong.status !== 400) failed = true;
  replies.push(`a wrong mode → ${wrong.status}`);

  let knative: DeployDemoResult['knative'];
  const missing = opts.render === false ? 'left out' : kustomizeMissing();
  if (missing) {
    knative = { ok: false, detail: missing };
    log(`knative/: not rendered (${missing})`);
  } else {
    const objs = kustomizeBuild(EXAMPLE_OVERLAY);
    const kinds = new Map<string, number>();
    for (const o of objs) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
    knative = {
      ok: true,
      detail: `kubectl apply -k knative/overlays/example would create ${objs.length} objects: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`,
    };
    log(knative.detail);
  }
  return { failed, events: replies.join('; '), knative };
}
