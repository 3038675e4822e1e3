/**
 * `npm start`: every function's app in one process on PORT (default 8080), as the APISIX
 * route serves them: GET /<scan>_scan?mode=… per scan, POST / a CloudEvent routed by its
 * `scan` extension. In a cluster each function is its own Knative service (knative/).
 */
import { combinedApp, serveApp } from '../lib/scan/serve.ts';
import kubescape, { definition as kubescapeDef } from './kubescape-scan/app.ts';
import network, { definition as networkDef } from './network-scan/app.ts';
import nuclei, { definition as nucleiDef } from './nuclei-scan/app.ts';
import opa, { definition as opaDef } from './opa-scan/app.ts';

/** Every function, in the order of the APISIX route (knative/base/apisix/route.yaml). */
const scans = [
  { definition: networkDef, app: network },
  { definition: opaDef, app: opa },
  { definition: kubescapeDef, app: kubescape },
  { definition: nucleiDef, app: nuclei },
];
serveApp(combinedApp(scans), scans.map((s) => s.definition.path).join(', '));
