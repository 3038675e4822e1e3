/** `npm start`: every function's app in one process on PORT (default 8080), as the APISIX route serves them. */
import { combinedApp, serveApp } from '../lib/scan/serve.ts';
import network, { definition as networkDef } from './network-scan/app.ts';
import opa, { definition as opaDef } from './opa-scan/app.ts';

const scans = [
  { definition: networkDef, app: network },
  { definition: opaDef, app: opa },
];
serveApp(combinedApp(scans), scans.map((s) => s.definition.path).join(', '));
