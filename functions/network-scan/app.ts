/** The network-scan function's Hono app (its Knative service serves it through main.ts). */
import { scanApp } from '../../lib/scan/scaffold.ts';
import { networkScan } from './scan.ts';

export const definition = networkScan();
const app = scanApp(definition);
export default app;
