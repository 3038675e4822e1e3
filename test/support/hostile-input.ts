/**
 * Hostile input documents, made on the fly (each is a few hundred bytes of text that would cost a
 * naive parser minutes or gigabytes): the input-bounds suite (test/unit/input-bounds.test.ts) and
 * the event-loop bench (bench/event-loop.ts, through the bundled server) feed them to the scans.
 */

/** Ten levels of ten aliases each: 10^10 nodes once expanded, 600 bytes of text. */
export function billionLaughs(levels = 10): string {
  let t = 'default_context:\n  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let k = 1; k < levels; k++)
    t += `  l${k}: &l${k} [${Array(10)
      .fill(`*l${k - 1}`)
      .join(', ')}]\n`;
  return `${t}  components: {a: {type: web, attributes: {namespace: web, blob: *l${levels - 1}}}}\n`;
}

/** A NetworkPolicy manifest whose `policies` nest `n` arrays deep. */
export const deepJson = (n = 5000) => `{"policies": ${'['.repeat(n)}${']'.repeat(n)}}`;
/** Stack metadata whose `default_context` nests `n` flow mappings deep. */
export const deepYamlFlow = (n = 5000) => `default_context: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`;
/** Stack metadata whose `default_context` nests `n` block mappings deep. */
export const deepYamlBlock = (n = 300) => `default_context:\n${Array.from({ length: n }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`;
