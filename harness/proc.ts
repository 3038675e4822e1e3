/**
 * Process bookkeeping the harness's cluster and node share: who owns a run (pid plus start
 * time, so a recycled pid is not mistaken for the owner), and reading files that may be gone.
 * Killing a whole process group is lib/tools/run.ts's killGroup.
 */
import { readFileSync } from 'node:fs';

export { killGroup } from '../lib/tools/run.ts';

/** The start time of a process (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Owner identity: pid plus start time. */
export function ownerId(pid = process.pid): string {
  return `${pid} ${procStartTime(pid) ?? ''}`.trim();
}

/** Whether the process an ownerId names is still that process. */
export function ownerAlive(owner: string): boolean {
  const pid = Number(owner.split(' ')[0]);
  return !!pid && ownerId(pid) === owner;
}

/** A file's text, or '' when it cannot be read. */
export function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
