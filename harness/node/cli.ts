// Developer entry point for the real node (root):
//   npx tsx harness/node/cli.ts up      start control plane + node, print the admin kubeconfig,
//                                       keep running until Ctrl-C / SIGTERM (then undo everything)
//   npx tsx harness/node/cli.ts sweep   undo what a killed run left (also done by every start)
//   npx tsx harness/node/cli.ts check   say whether the node can start here, and why not
import { nodePreflight, startNodeCluster, sweepNode } from './index.ts';

const cmd = process.argv[2] ?? 'up';
if (cmd === 'check') {
  const why = nodePreflight();
  console.log(why ? `the real node cannot start here: ${why}` : 'the real node can start here');
  process.exitCode = why ? 1 : 0;
} else if (cmd === 'sweep') {
  sweepNode(console.log);
  console.log('nothing left of a killed run');
} else if (cmd === 'up') {
  const nc = await startNodeCluster({ log: console.log, waitForOtherMs: Number(process.env.STACKSCAN_NODE_WAIT_MS ?? 0) });
  console.log(`READY ${nc.cp.kubeconfigPath} ${nc.node.dir}`);
  const stop = async () => {
    await nc.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  setInterval(() => {}, 1 << 30);
} else {
  console.error('usage: npx tsx harness/node/cli.ts up|sweep|check');
  process.exitCode = 2;
}
