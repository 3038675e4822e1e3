/** The report every scan returns (the JSON envelope of its HTTP answer), apart from the scaffold so its readers (lib/report) need not import the scaffold. */
import type { ReportError } from '../errors.ts';
import type { Changes } from '../openreports/changes.ts';

export interface ScanOutcome {
  /** 0–100, or null when the scan could not decide (the reason is in `errors`). */
  score: number | null;
  summary: Record<string, unknown>;
  /** Mode-specific detail (light and full). */
  results?: Record<string, unknown>;
  /** Per-test findings (full mode). */
  findings?: unknown[];
  errors: ReportError[];
  /** Where the inputs came from: files, cluster, settings. */
  sources: Record<string, unknown>;
}

export interface ScanReport extends ScanOutcome {
  scan: string;
  scan_type: string;
  started_at: string;
  duration_ms: number;
  /** Against the previous run of the same scan and mode (lib/openreports/changes.ts); scans with a `checks` adapter. */
  changes?: Changes;
}
