/**
 * Progress on standard error, only when it is a terminal (the caller decides): one line rewritten
 * in place, `network (full): probes 12/40`. Redrawn at most every 80 ms.
 */
export function progressLine(stream: { write(s: string): unknown; columns?: number }) {
  let last = 0;
  let shown = false;
  const draw = (scan: string, p: { step: string; done?: number; total?: number }) => {
    const now = Date.now();
    const final = p.total !== undefined && p.done === p.total;
    if (shown && now - last < 80 && !final) return;
    last = now;
    const count = p.total !== undefined ? ` ${p.done ?? 0}/${p.total}` : '';
    const text = `${scan}: ${p.step}${count}`.slice(0, Math.max(20, (stream.columns ?? 100) - 1));
    stream.write(`\r\x1b[K${text}`);
    shown = true;
  };
  draw.clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return draw;
}
