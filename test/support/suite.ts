// Starts the one control plane (etcd + kube-apiserver + Gatekeeper) shared by all
// integration suites of a test run. Never builds anything: the binaries must already
// be in .cache/bin (harness/build.sh).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BINARIES, DEFAULT_BIN_DIR, gatekeeperCrdsPath, startControlPlane } from '../../harness/cluster/index.ts';
import { installOpenReports, openReportsMissing } from '../../harness/cluster/openreports.ts';
import { makeKubeSync } from '../../lib/kube/client.ts';
import { setTestCluster } from './cluster.ts';

export async function prepareTestCluster(): Promise<{ ok: true; stop: () => Promise<void> } | { ok: false; reason: string }> {
  const binDir = DEFAULT_BIN_DIR;
  const missing: string[] = BINARIES.filter((b) => !existsSync(join(binDir, b)));
  if (!existsSync(gatekeeperCrdsPath(binDir))) missing.push('../gatekeeper/crds.yaml');
  const noReports = openReportsMissing();
  if (noReports) missing.push('../openreports/*.yaml (bash harness/build.sh openreports)');
  if (missing.length) {
    return {
      ok: false,
      reason: `run harness/build.sh (needs Go) to build the control plane: missing ${missing.join(', ')} in ${binDir}`,
    };
  }
  const quiet = process.env.STACKSCAN_CP_QUIET === '1';
  try {
    const cp = await startControlPlane({
      gatekeeper: true,
      binDir,
      // stderr: test/run.ts parses uvu's summary from stdout
      log: quiet ? undefined : (line) => process.stderr.write(`[controlplane] ${line}\n`),
    });
    // The OpenReports CRDs (from the pinned Go module), so stored reports are validated by the real API server.
    await installOpenReports(makeKubeSync(cp.kubeconfigPath)).catch(async (err) => {
      await cp.stop();
      throw err;
    });
    process.env.STACKSCAN_TEST_KUBECONFIG = cp.kubeconfigPath;
    setTestCluster(cp);
    return {
      ok: true,
      stop: async () => {
        setTestCluster(undefined);
        delete process.env.STACKSCAN_TEST_KUBECONFIG;
        await cp.stop();
      },
    };
  } catch (e) {
    return { ok: false, reason: `the test control plane did not start: ${e instanceof Error ? e.message : String(e)}` };
  }
}
