/** The opa-scan function's Hono app (its Knative service serves it through main.ts). */
import { scanApp } from '../../lib/scan/scaffold.ts';
import { opaScan } from './scan.ts';

export const definition = opaScan();
const app = scanApp(definition);
export default app;
