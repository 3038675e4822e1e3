/** Entry point of the network-scan Knative service: serves /network_scan on PORT (default 8080). */
import { serveScans } from '../../lib/scan/serve.ts';
import { networkScan } from './scan.ts';

serveScans([networkScan()]);
