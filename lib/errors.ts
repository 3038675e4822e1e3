/**
 * Errors a person can act on. A `ScanError` carries the HTTP status the scan
 * answers with, a stable machine code, and the file/field/setting it is about.
 * Anything else thrown inside a scan is a bug and becomes a 500 without a stack.
 */
export interface ErrorDetail {
  /** A JSON-ish path into a file or object, e.g. `policies[3].ports[0].port`. */
  path?: string;
  message: string;
}

export interface ErrorInfo {
  code: string;
  message: string;
  /** The file the error is about. */
  file?: string;
  /** The environment variable or query parameter that points at it. */
  setting?: string;
  line?: number;
  column?: number;
  details?: ErrorDetail[];
}

/** The JSON body of an error answer: `{ error: { status, code, message, … } }`. */
export function errorBody(status: number, info: ErrorInfo) {
  return { error: { status, ...info } };
}

export class ScanError extends Error {
  readonly status: number;
  readonly info: ErrorInfo;
  constructor(status: number, info: ErrorInfo) {
    super(info.message);
    this.name = 'ScanError';
    this.status = status;
    this.info = info;
  }
  toJSON(): ErrorInfo {
    return this.info;
  }
}

/** An error entry in a report's `errors[]`: the scan went on without this part. */
export interface ReportError {
  /** Which step failed, e.g. `list networkpolicies`. */
  step: string;
  code: string;
  message: string;
  status?: number;
}

export function toReportError(step: string, err: unknown): ReportError {
  if (err instanceof ScanError) return { step, code: err.info.code, message: err.info.message, status: err.status };
  return { step, code: 'internal', message: err instanceof Error ? err.message : String(err) };
}
