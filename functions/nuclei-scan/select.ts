/**
 * Which templates of the catalog run against which target (pure).
 *
 * A target's selector comes from the scan mode and its component type (tags.ts):
 *   light   — http templates with a LIGHT_TAGS tag
 *   full    — http templates with a LIGHT_TAGS tag or one of the type's own tags (its CVEs);
 *             on routes also GATEWAY_TAGS (every route is served by the APISIX gateway)
 *   network — tcp and javascript templates with one of the type's network tags
 *   ssl     — ssl templates with an SSL_TAGS tag
 * and in every mode a template tied to ANOTHER technology of the table (its tags name
 * one: grafana, minio, redis, …) never runs against this type: no grafana CVE against
 * minio. Templates tied to no technology of the table (.git/config, .env, the gateway's
 * own apisix templates, since every route is served by it) run against every type.
 *
 * Production safety, whatever the selector says:
 *   - a template carrying a tag of DEFAULT_EXCLUDED_TAGS (state-changing, denial of
 *     service, brute force) is excluded unless NUCLEI_ALLOW_TAGS names that tag;
 *   - the release's `.nuclei-ignore` tags and files (weak matchers) are excluded the same way;
 *   - a template that needs an out-of-band interactsh server is excluded unless
 *     NUCLEI_INTERACTSH_URL is set (with `-ni` nuclei runs it but it can never match).
 * Every exclusion of a template the selector picked is reported with its reason.
 *
 * Targets whose selections are equal share one nuclei run (a group); see
 * docs/nuclei-templates.md for the measurement behind one run per group.
 */
import type { Catalog, TemplateInfo } from './templates.ts';
import { GATEWAY_TAGS, LIGHT_TAGS, SSL_TAGS, TECH_TAGS, techRow } from './tags.ts';
import type { NucleiMode, Plan } from './plan.ts';

/** Tags nuclei's community uses for templates that must not run against production by default. */
export const DEFAULT_EXCLUDED_TAGS: ReadonlyMap<string, string> = new Map([
  ['intrusive', "changes the target's state (e.g. creates a user or a route, runs code)"],
  ['dos', 'may deny service (crash or exhaust the target)'],
  ['fuzz', 'fuzzes or guesses at length (many requests, may lock accounts)'],
  ['bruteforce', 'brute-forces credentials (many logins, may lock accounts)'],
]);

export interface Selector {
  protocols: string[];
  tags: string[];
  /** Technology tags of the other rows: a template with one of them is not for this type. */
  otherTech: string[];
}

export interface Policy {
  /** Tags of DEFAULT_EXCLUDED_TAGS (or of `.nuclei-ignore`) the operator allows. */
  allowTags: ReadonlySet<string>;
  interactsh: boolean;
}

export type ExclusionCode = 'excluded_tag' | 'nuclei_ignore' | 'needs_interactsh';

export interface Exclusion {
  template_id: string;
  path: string;
  code: ExclusionCode;
  reason: string;
}

/** Every technology tag of the table. */
export const ALL_TECH_TAGS: readonly string[] = [...new Set(TECH_TAGS.flatMap((r) => [...(r.http ?? []), ...(r.network ?? [])]))].sort();

export function selectorFor(mode: NucleiMode, type: string, kind: 'route' | 'service' = 'service'): Selector {
  const row = techRow(type);
  const own = new Set([...(row?.http ?? []), ...(row?.network ?? [])]);
  const otherTech = ALL_TECH_TAGS.filter((t) => !own.has(t));
  switch (mode) {
    case 'light':
      return { protocols: ['http'], tags: [...LIGHT_TAGS], otherTech };
    case 'full':
      return { protocols: ['http'], tags: [...new Set([...LIGHT_TAGS, ...(row?.http ?? []), ...(kind === 'route' ? GATEWAY_TAGS : [])])], otherTech };
    case 'network':
      return { protocols: ['tcp', 'javascript'], tags: [...(row?.network ?? [])], otherTech };
    case 'ssl':
      return { protocols: ['ssl'], tags: [...SSL_TAGS], otherTech };
  }
}

const INTERACTSH_REASON = 'needs an out-of-band interactsh server to match; interactsh is off (set NUCLEI_INTERACTSH_URL to run it)';

/** The templates a selector picks, and the picked ones excluded for safety (with why). */
export function selectTemplates(catalog: Catalog, sel: Selector, policy: Policy): { templates: TemplateInfo[]; excluded: Exclusion[] } {
  const protocols = new Set(sel.protocols);
  const wanted = new Set(sel.tags);
  const other = new Set(sel.otherTech);
  const excludedTags = new Map([...DEFAULT_EXCLUDED_TAGS].filter(([t]) => !policy.allowTags.has(t)));
  const ignoreTags = new Set(catalog.ignore.tags.filter((t) => !policy.allowTags.has(t) && !DEFAULT_EXCLUDED_TAGS.has(t)));
  const templates: TemplateInfo[] = [];
  const excluded: Exclusion[] = [];
  for (const t of catalog.templates) {
    if (!protocols.has(t.protocol)) continue;
    if (!t.tags.some((x) => wanted.has(x))) continue;
    if (t.tags.some((x) => other.has(x))) continue;
    const base = { template_id: t.id, path: t.path };
    const bad = t.tags.find((x) => excludedTags.has(x));
    if (bad) {
      excluded.push({ ...base, code: 'excluded_tag', reason: `tagged '${bad}': ${excludedTags.get(bad)}; not run unless NUCLEI_ALLOW_TAGS includes '${bad}'` });
      continue;
    }
    const ign = t.tags.find((x) => ignoreTags.has(x));
    if (ign || catalog.ignore.files.has(t.path)) {
      excluded.push({
        ...base,
        code: 'nuclei_ignore',
        reason: ign
          ? `tagged '${ign}', which the release's .nuclei-ignore leaves out; not run unless NUCLEI_ALLOW_TAGS includes '${ign}'`
          : "listed in the release's .nuclei-ignore (weak matchers, false positives)",
      });
      continue;
    }
    if (t.interactsh && !policy.interactsh) {
      excluded.push({ ...base, code: 'needs_interactsh', reason: INTERACTSH_REASON });
      continue;
    }
    templates.push(t);
  }
  return { templates, excluded };
}

/** One nuclei run: the targets (inputs) that share a selection. */
export interface RunGroup {
  /** The component types (and modes' selectors) it stands for, e.g. `grafana`. */
  types: string[];
  protocols: string[];
  templates: TemplateInfo[];
  inputs: string[];
}

export interface Grouping {
  groups: RunGroup[];
  /** Template exclusions, once per template, with the types they would have run against. */
  excluded: (Exclusion & { types: string[] })[];
  /** Inputs for which no template applies (their targets are reported, not scanned). */
  noTemplates: Map<string, string>;
}

/**
 * Pure: group a plan's inputs by their templates. Targets that share an address (a route
 * and its Service mapped to one place) are one input: it gets the union of their
 * templates, once, so the same server is never scanned twice.
 */
export function groupPlan(plan: Plan, catalog: Catalog, policy: Policy): Grouping {
  const bySelector = new Map<string, { templates: TemplateInfo[]; excluded: Exclusion[]; protocols: string[] }>();
  const selection = (type: string, kind: 'route' | 'service') => {
    const key = `${kind} ${type.toLowerCase()}`;
    let s = bySelector.get(key);
    if (!s) {
      const sel = selectorFor(plan.mode, type.toLowerCase(), kind);
      s = { ...selectTemplates(catalog, sel, policy), protocols: sel.protocols };
      bySelector.set(key, s);
    }
    return s;
  };
  const excluded = new Map<string, Exclusion & { types: string[] }>();
  const perInput = new Map<string, { types: string[]; protocols: Set<string>; templates: Map<string, TemplateInfo> }>();
  for (const t of plan.targets) {
    if (!t.input) continue;
    const s = selection(t.type, t.kind);
    for (const e of s.excluded) {
      const x = excluded.get(e.path) ?? { ...e, types: [] };
      if (!x.types.includes(t.type)) x.types.push(t.type);
      excluded.set(e.path, x);
    }
    const at = perInput.get(t.input) ?? { types: [], protocols: new Set<string>(), templates: new Map<string, TemplateInfo>() };
    perInput.set(t.input, at);
    if (!at.types.includes(t.type)) at.types.push(t.type);
    for (const p of s.protocols) at.protocols.add(p);
    for (const x of s.templates) at.templates.set(x.path, x);
  }
  const groups = new Map<string, RunGroup>();
  const noTemplates = new Map<string, string>();
  for (const [input, at] of perInput) {
    if (!at.templates.size) {
      noTemplates.set(input, `no template in the templates directory applies to type '${at.types.join("', '")}' in ${plan.mode} mode`);
      continue;
    }
    const templates = [...at.templates.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
    const protocols = [...at.protocols];
    const key = `${protocols.join(',')}\u0000${templates.map((x) => x.path).join('\u0000')}`;
    let g = groups.get(key);
    if (!g) {
      g = { types: [], protocols, templates, inputs: [] };
      groups.set(key, g);
    }
    for (const ty of at.types) if (!g.types.includes(ty)) g.types.push(ty);
    g.inputs.push(input);
  }
  return { groups: [...groups.values()], excluded: [...excluded.values()], noTemplates };
}

/** The alternative measured in bench/nuclei.ts: one run, the union of the templates, every input. */
export function unionOf(groups: RunGroup[]): RunGroup[] {
  if (groups.length <= 1) return groups;
  const templates = new Map<string, TemplateInfo>();
  for (const g of groups) for (const t of g.templates) templates.set(t.path, t);
  return [
    {
      types: [...new Set(groups.flatMap((g) => g.types))],
      protocols: [...new Set(groups.flatMap((g) => g.protocols))],
      templates: [...templates.values()],
      inputs: [...new Set(groups.flatMap((g) => g.inputs))],
    },
  ];
}
