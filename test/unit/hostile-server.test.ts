// Issue 19 item 1, end to end: a real server process (the bundle the images run) while all four
// scans read hostile files (billion laughs, YAML and JSON nested 5,000 levels, 9 MB over the node
// cap, metadata over the component cap). Every /healthz probe sent every 5 ms during every scan is
// answered, each scan answers with a 4xx/503 naming what it refused, and the event loop's longest
// stall is measured (the longest /healthz answer; bench/event-loop.ts holds the 100 ms target and
// reports the figures: a timed assertion here would fail on a loaded machine, so the bound checked
// is a loose one, far below the minute the billion laughs used to hold the server).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundle } from '../../knative/bundle.ts';
import { hostileCases, measureHostile } from '../../bench/event-loop.ts';

const s = suite('hostile inputs: the server keeps answering /healthz during every scan');

s('billion laughs, deep YAML/JSON, 9 MB over the node cap, over the component cap: refused, /healthz answered throughout', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'stack-scan-bundle-test-'));
  try {
    const [built] = await bundle(['server'], outdir);
    const wanted = new Set([
      'billion laughs (aliases 10 deep)',
      'YAML nested 5,000 levels',
      'JSON manifest nested 5,000 levels',
      '9 MB metadata over the node cap',
      'metadata over the component cap (13,000)',
    ]);
    const { results } = await measureHostile(
      hostileCases().filter((c) => wanted.has(c.name)),
      built.outfile,
      2,
    );
    assert.is(results.length, wanted.size);
    const expected: Record<string, string> = {
      'billion laughs (aliases 10 deep)': 'document_too_large',
      'YAML nested 5,000 levels': 'document_too_deep',
      'JSON manifest nested 5,000 levels': 'document_too_deep',
      '9 MB metadata over the node cap': 'document_too_large',
      'metadata over the component cap (13,000)': 'too_many_components',
    };
    for (const r of results) {
      assert.ok(r.probes > 0 && r.failedProbes === 0, `${r.name}: /healthz answered ${r.probes - r.failedProbes}/${r.probes}`);
      // The network scan reads every file (the OPA scan the metadata only).
      assert.is(r.statuses[0], 422, `${r.name}: network scan ${r.codes[0]}`);
      // Large files (parsed on a worker): refused by their cap once parsed, or by the parse time limit (STACK_FILE_READ_TIMEOUT_MS)
      // when this shared machine is too busy to parse it within 5 s: a bounded 422 either way.
      if (r.name.startsWith('9 MB') || r.name.includes('component cap'))
        assert.ok([expected[r.name], 'file_parse_timeout'].includes(r.codes[0]), `${r.name}: ${r.codes[0]}`);
      else assert.is(r.codes[0], expected[r.name], r.name);
      assert.ok(
        r.statuses.every((st) => st > 0 && st !== 500),
        `${r.name}: ${r.statuses.join('/')}`,
      );
      assert.ok(r.maxHealthzMs < 1000, `${r.name}: longest /healthz answer ${r.maxHealthzMs.toFixed(1)} ms`);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

s.run();
