/** `npm start`: every implemented scan in one process on PORT (default 8080). */
import { networkScan } from './functions/network-scan/scan.ts';
import { opaScan } from './functions/opa-scan/scan.ts';
import { serveScans } from './lib/scan/serve.ts';

serveScans([networkScan(), opaScan()], { combined: true });
