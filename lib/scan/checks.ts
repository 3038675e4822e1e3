/**
 * One flat list of checks per report: the shape every consumer of a finished report
 * reads (OpenReports objects in the cluster, "what changed since the last run", the
 * command line's gate and its SARIF / JUnit / HTML output). Each scan turns its own
 * report into checks with its own adapter (`functions/<scan>/checks.ts`), exposed as
 * `ScanDefinition.checks`; the consumers never look inside a scan's report shape.
 */

/** OpenReports' result values. How each scan maps its verdicts onto them is in its adapter and in docs/. */
export type CheckResult = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

/** OpenReports' severities (SARIF levels and the CLI's `--fail-on` derive from them). */
export type CheckSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface CheckResource {
  apiVersion?: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Where in the user's own files the check points (Stacktic's generated files, stack-metadata.yaml). */
export interface CheckLocation {
  /** As the report names it (relative to the stack directory where possible). */
  file: string;
  line?: number;
  column?: number;
}

export interface Check {
  /**
   * Stable: the same problem gets the same id in every run (hash of scan, policy, rule and the
   * identity of what is checked; never of messages, evidence, times or counts).
   */
  id: string;
  /** The check: expected policy / link, constraint (kind/name), control id, nuclei template id. */
  policy: string;
  /** The part of the check: rule index, probe, test case, matcher. */
  rule: string;
  /** One line a person reads; also SARIF's rule help when no `help` is given. */
  title?: string;
  help?: string;
  result: CheckResult;
  /** The scan's own verdict (PASS, FAIL, BLOCKED, SECURITY_RISK, MISSING, DRIFTED, UNTESTED, …). */
  verdict: string;
  severity: CheckSeverity;
  /** The stack namespace it belongs to; absent for findings that belong to no namespace. */
  namespace?: string;
  resources: CheckResource[];
  /** One line. */
  message: string;
  location?: CheckLocation;
  /** What a user acts on: verdict, Stacktic attribute to set, file and line, evidence (strings only). */
  properties: Record<string, string>;
}
