/** Entry point of the kubescape-scan Knative service: serves its app on PORT (default 8080). */
import { serveApp } from '../../lib/scan/serve.ts';
import app, { definition } from './app.ts';

serveApp(app, definition.path);
