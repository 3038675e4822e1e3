/** Admission answers are read by lib/kube/admission.ts (shared with the network scan's probe pods). */
export { bindingConstraint, parseAdmissionWarnings, parseDenials, readAdmission, type Admission, type Denial, type Warning } from '../../lib/kube/admission.ts';
