// The kubescape binary the integration suites run: the one harness/build.sh built (or $KUBESCAPE_BIN),
// else `kubescape` on PATH; and whether it is there at all (the suites skip with the reason if not).
import { execFileSync } from 'node:child_process';
import { defaultKubescapeBin } from '../../functions/kubescape-scan/settings.ts';

export const KUBESCAPE_BIN = defaultKubescapeBin();
export const HAVE_KUBESCAPE =
  KUBESCAPE_BIN !== 'kubescape' ||
  (() => {
    try {
      execFileSync('kubescape', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
