/**
 * Community templates whose match, in a known situation, proves nothing beyond another
 * finding (or nothing at all). Their findings stay in the report, marked
 * `informational: true` with the reason, and are kept out of the score and the
 * severity counts. Each row was observed with nuclei v3.10.0 against the local services
 * of test/integration/nuclei-community.test.ts (see docs/nuclei-templates.md).
 */
export interface KnownFalsePositive {
  template: string;
  /** Only when this other template matched on the same target; unset: always. */
  when?: string;
  reason: string;
}

export const KNOWN_FALSE_POSITIVES: readonly KnownFalsePositive[] = [
  {
    template: 'revoked-ssl-certificate',
    when: 'expired-ssl',
    reason:
      "the certificate is expired (see expired-ssl): nuclei's TLS library treats every expired certificate as revoked without any OCSP or CRL lookup, " +
      'so this proves nothing more',
  },
  {
    template: 'redis-require-auth',
    reason:
      'the template matches whether or not the server requires a password (it only checks that the AUTH exchange answers): it proves nothing about ' +
      'authentication',
  },
  {
    template: 'redis-weak-credentials',
    when: 'exposed-redis',
    reason: 'the server has no password at all (see exposed-redis), so every guessed password "works": the weakness is the missing password, already counted',
  },
  {
    template: 'postgres-weak-credentials',
    when: 'unauth-psql',
    reason: 'the server lets anyone in without a password (see unauth-psql), so every guessed password "works": already counted',
  },
  {
    template: 'pgsql-version-detect',
    when: 'postgres-weak-credentials',
    reason: 'it logs in with the same default credentials postgres-weak-credentials found (already counted) and only reads the version',
  },
];

const byTemplate = new Map<string, KnownFalsePositive[]>();
for (const r of KNOWN_FALSE_POSITIVES) byTemplate.set(r.template, [...(byTemplate.get(r.template) ?? []), r]);

/** The rule that makes a match on a target informational, given every template that matched there. */
export function falsePositiveRule(templateId: string, matchedOnTarget: ReadonlySet<string>): KnownFalsePositive | undefined {
  return byTemplate.get(templateId)?.find((r) => !r.when || matchedOnTarget.has(r.when));
}
