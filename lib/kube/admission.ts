/**
 * Reading admission answers (pure), for every scan that submits objects (OPA dry-runs,
 * network probe pods). Gatekeeper denies through its webhook:
 *   admission webhook "validation.gatekeeper.sh" denied the request: [<constraint>] <message>
 * with several denials joined by newlines; or through a native
 * ValidatingAdmissionPolicy, whose binding Gatekeeper names after the constraint:
 *   ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request: <message>
 * `warn` actions come back as response warnings: `[<constraint>] <message>`.
 */
export interface Denial {
  /** The constraint, when the denial names one. */
  constraint?: string;
  message: string;
  via: 'webhook' | 'vap' | 'other';
  /** For VAP denials: the policy and binding names. */
  policy?: string;
  binding?: string;
}

const WEBHOOK = /admission webhook "([^"]+)" denied the request:\s*/;
const VAP = /ValidatingAdmissionPolicy '([^']+)' with binding '([^']+)' denied request:\s*/g;

/** Gatekeeper's VAP bindings are named `gatekeeper-<constraint>`. */
export const bindingConstraint = (binding: string) => binding.replace(/^gatekeeper-/, '');

export function parseDenials(message: string): Denial[] {
  const out: Denial[] = [];
  const wh = WEBHOOK.exec(message);
  if (wh) {
    const rest = message.slice(wh.index + wh[0].length);
    // Each denial starts with [name] at a line start; continuation lines belong to the previous one.
    const parts = rest.split(/\n(?=\[[^\]\n]+\]\s)/);
    for (const part of parts) {
      const m = /^\[([^\]\n]+)\]\s*([\s\S]*)$/.exec(part.trim());
      if (m) out.push({ constraint: m[1], message: m[2].trim(), via: 'webhook' });
      else if (part.trim()) out.push({ message: part.trim(), via: 'webhook' });
    }
    return out;
  }
  const vap = [...message.matchAll(VAP)];
  if (vap.length) {
    vap.forEach((m, i) => {
      const end = i + 1 < vap.length ? vap[i + 1].index : message.length;
      out.push({
        policy: m[1],
        binding: m[2],
        constraint: bindingConstraint(m[2]),
        message: message
          .slice(m.index! + m[0].length, end)
          .replace(/[,;\s]+$/, '')
          .trim(),
        via: 'vap',
      });
    });
    return out;
  }
  return message ? [{ message, via: 'other' }] : [];
}

export interface Warning {
  constraint?: string;
  message: string;
}

/** Gatekeeper `warn` answers (`[<constraint>] <message>` response warnings). */
export function parseAdmissionWarnings(warnings: string[]): Warning[] {
  return warnings.map((w) => {
    const m = /^\[([^\]]+)\]\s*([\s\S]*)$/.exec(w.trim());
    return m ? { constraint: m[1], message: m[2] } : { message: w };
  });
}

/** The outcome of one dry-run submission, from the API server's answer. */
export interface Admission {
  admitted: boolean;
  status: number;
  denials: Denial[];
  warnings: Warning[];
  /** A failure that is not an admission decision (bad request, missing namespace…). */
  error?: string;
}

export function readAdmission(status: number, body: unknown, warnings: string[]): Admission {
  const w = parseAdmissionWarnings(warnings);
  if (status >= 200 && status < 300) return { admitted: true, status, denials: [], warnings: w };
  const msg = body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : String(body ?? '');
  const denials = parseDenials(msg);
  const isAdmission = denials.some((d) => d.via !== 'other') || (status === 403 && /denied/.test(msg));
  return { admitted: false, status, denials, warnings: w, ...(isAdmission ? {} : { error: `${status}: ${msg}` }) };
}

export interface AdmissionDenial {
  /** The webhook or policy text as the API server gave it. */
  message: string;
  /** The constraints (or policies) that denied, with their messages. */
  constraints: { name: string; message: string }[];
}

/** An admission denial in an API error message, or undefined when the message is something else. */
export function parseAdmissionDenial(message: string): AdmissionDenial | undefined {
  const denials = parseDenials(message);
  if (!denials.some((d) => d.via !== 'other')) return undefined;
  return { message, constraints: denials.filter((d) => d.constraint).map((d) => ({ name: d.constraint!, message: d.message })) };
}
