/** Entry point of the opa-scan Knative service: serves /opa_scan on PORT (default 8080). */
import { serveScans } from '../../lib/scan/serve.ts';
import { opaScan } from './scan.ts';

serveScans([opaScan()]);
