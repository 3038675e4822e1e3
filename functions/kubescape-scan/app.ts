/** The kubescape-scan function's Hono app (its Knative service serves it through main.ts). */
import { scanApp } from '../../lib/scan/scaffold.ts';
import { kubescapeScan } from './scan.ts';

export const definition = kubescapeScan();
const app = scanApp(definition);
export default app;
