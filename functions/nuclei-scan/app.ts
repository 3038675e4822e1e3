/** The nuclei-scan function's Hono app (its Knative service serves it through main.ts). */
import { scanApp } from '../../lib/scan/scaffold.ts';
import { nucleiScan } from './scan.ts';

export const definition = nucleiScan();
const app = scanApp(definition);
export default app;
