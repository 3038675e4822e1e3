#!/usr/bin/env bash
# Re-record test/fixtures/nmap/*.xml from real nmap runs, and write beside each
# <name>.xml a <name>.expect.json with what this script SET UP (which ports
# listen, which are dropped by nftables, which host is down), never read back
# from nmap's output. test/unit/nmap-parse.test.ts checks the parser against
# those expectations.
#
# Everything runs inside network namespaces this script creates and always
# deletes (trap): loopback only, plus a veth pair between two of its own
# namespaces in 198.18.0.0/30 (RFC 2544 benchmarking range) for the host-down
# case. No packet leaves them. The nmap arguments come from nmapArgs() in
# functions/network-scan/nmap/nmap.ts, so the fixtures are what the runner really asks nmap for.
#
# Needs: root, nmap, nft, ip (iproute2), node + the project's node_modules.
# Usage: sudo harness/record-nmap-fixtures.sh        (re-records all fixtures)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/test/fixtures/nmap
ns=stackscan-rec-$$
peer=stackscan-rec-peer-$$
work=$(mktemp -d)
listener_pid=

die() { echo "record-nmap-fixtures: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, nftables)"
for b in nmap nft ip node; do command -v "$b" >/dev/null || die "$b not found (harness/install-system-deps.sh installs nmap, nftables, iproute2)"; done

cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$peer" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# ------------------------------------------------------------------ setup
# Namespace $ns: loopback (127.0.0.0/8, ::1) with
#   listening:  127.0.0.1:8080, 127.0.0.1:8443, [::1]:8080
#   dropped:    tcp ports 8090, 9000-9039, 9090, 9091 (nftables, IPv4 and IPv6)
#   everything else refuses connections (closed)
# and a veth v0 198.18.0.1/30 to namespace $peer (198.18.0.2), which drops
# every packet, ARP included: a host that is down.
ip netns add "$ns"
ip netns add "$peer"
ip -n "$ns" link set lo up
ip -n "$peer" link set lo up
ip -n "$ns" link add v0 type veth peer name v1 netns "$peer"
ip -n "$ns" addr add 198.18.0.1/30 dev v0
ip -n "$peer" addr add 198.18.0.2/30 dev v1
ip -n "$ns" link set v0 up
ip -n "$peer" link set v1 up

ip netns exec "$ns" nft -f - <<'EOF'
table inet stackscan_rec {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport { 8090, 9000-9039, 9090, 9091 } drop
  }
}
EOF
ip netns exec "$peer" nft -f - <<'EOF'
table inet stackscan_rec_down {
  chain input {
    type filter hook input priority 0; policy drop;
  }
}
table arp stackscan_rec_down_arp {
  chain input {
    type filter hook input priority 0; policy drop;
  }
}
EOF

ip netns exec "$ns" node -e '
const net = require("node:net");
const specs = process.argv.slice(1);
let left = specs.length;
for (const s of specs) {
  const i = s.lastIndexOf(":");
  net.createServer((c) => c.destroy()).listen(Number(s.slice(i + 1)), s.slice(0, i), () => { if (--left === 0) console.log("ready"); });
}
setTimeout(() => process.exit(0), 600000).unref();
' 127.0.0.1:8080 127.0.0.1:8443 ::1:8080 >"$work/listener.out" 2>&1 &
listener_pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/listener.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/listener.out" || die "listeners did not start: $(cat "$work/listener.out")"

nmap_version=$(nmap --version | sed -n 's/^Nmap version \([^ ]*\).*/\1/p')
mkdir -p "$out"

# ------------------------------------------------------------------ record
# record NAME DESCRIPTION OPTIONS_JSON <<< "host port expect [reason-substring]" lines
record() {
  local name=$1 description=$2 options=$3
  local spec; spec=$(cat)
  local args_file=$work/$name.args
  (cd "$root" && npx tsx --input-type=module -e '
    import { writeFileSync } from "node:fs";
    import { nmapArgs } from "./functions/network-scan/nmap/nmap.ts";
    const [name, description, options, spec, argsFile, expectFile, nmapVersion, ns] = process.argv.slice(1);
    const targets = spec.trim().split("\n").map((line, i) => {
      const [host, port, expect, reason] = line.trim().split(/\s+/);
      return { id: `t${i + 1}`, host, port: Number(port), protocol: "TCP", expect, ...(reason ? { expectReason: reason } : {}) };
    });
    const opts = JSON.parse(options);
    const args = nmapArgs(targets.map(({ id, host, port, protocol }) => ({ id, host, port, protocol })), opts);
    writeFileSync(argsFile, args.join("\n") + "\n");
    writeFileSync(expectFile, JSON.stringify({
      fixture: `${name}.xml`,
      description,
      recordedWith: { nmapVersion, by: "harness/record-nmap-fixtures.sh", netns: ns.replace(/-[0-9]+$/, "-<pid>") },
      nmapOptions: opts,
      command: ["nmap", ...args],
      targets,
    }, null, 2) + "\n");
  ' "$name" "$description" "$options" "$spec" "$args_file" "$out/$name.expect.json" "$nmap_version" "$ns")
  local -a args; mapfile -t args <"$args_file"
  echo "recording $name: nmap ${args[*]}" >&2
  ip netns exec "$ns" timeout 120 nmap "${args[@]}" >"$out/$name.xml" 2>"$work/$name.stderr" \
    || die "nmap failed for $name: $(cat "$work/$name.stderr")"
  [ -s "$work/$name.stderr" ] && echo "  nmap stderr: $(cat "$work/$name.stderr")" >&2
  return 0
}

record open-closed \
  "127.0.0.1:8080 and :8443 listen; other ports refuse. localhost is given by name (nmap records it as a user hostname). 127.0.0.2 has no listener (they are bound to 127.0.0.1 only)." \
  '{"hostTimeoutMs":10000,"connectTimeoutMs":300}' <<'EOF'
127.0.0.1 8080 open
127.0.0.1 8443 open
127.0.0.1 8081 closed
127.0.0.1 9 closed
127.0.0.2 8080 closed
localhost 8443 open
localhost 8081 closed
EOF

record filtered \
  "nftables in the namespace drops tcp 9090 and 9091 (no answer: filtered); 8080 listens; 8081 refuses." \
  '{"hostTimeoutMs":10000,"connectTimeoutMs":300}' <<'EOF'
127.0.0.1 9090 filtered
127.0.0.1 9091 filtered
127.0.0.1 8080 open
127.0.0.1 8081 closed
EOF

record extraports \
  "100 ports 8000-8099 on 127.0.0.1: 8080 listens, 8090 is dropped, the other 98 refuse, so nmap folds them into <extraports state=closed>." \
  '{"hostTimeoutMs":10000,"connectTimeoutMs":300}' < <(for p in $(seq 8000 8099); do
    case $p in 8080) echo "127.0.0.1 $p open";; 8090) echo "127.0.0.1 $p filtered";; *) echo "127.0.0.1 $p closed";; esac
  done)

record extraports-mixed \
  "127.0.0.1: 9000-9039 dropped (40 filtered) and 8000-8029 refusing (30 closed), both folded into <extraports>; 8080 listens." \
  '{"hostTimeoutMs":15000,"connectTimeoutMs":300}' < <(
    for p in $(seq 9000 9039); do echo "127.0.0.1 $p filtered"; done
    for p in $(seq 8000 8029); do echo "127.0.0.1 $p closed"; done
    echo "127.0.0.1 8080 open")

record host-down \
  "With host discovery (no -Pn) and -v: 198.18.0.2 is the far end of a veth whose namespace drops everything (host down); 198.18.0.9 has no route in the namespace (nmap skips the target); 127.0.0.1:8080 listens." \
  '{"hostTimeoutMs":10000,"connectTimeoutMs":300,"hostDiscovery":true,"verbose":true}' <<'EOF'
198.18.0.2 80 unknown down
198.18.0.9 80 unknown skipped
127.0.0.1 8080 open
EOF

record host-timeout \
  "127.0.0.1 ports 9000-9039 are dropped and the host timeout (300 ms) is shorter than nmap needs to give up on them: the host times out." \
  '{"hostTimeoutMs":300,"connectTimeoutMs":1000}' < <(for p in $(seq 9000 9039); do echo "127.0.0.1 $p unknown host-timeout"; done)

record ipv6 \
  "IPv6 loopback (-6): [::1]:8080 listens, 8081 refuses, 9090 is dropped by the inet nftables table." \
  '{"hostTimeoutMs":10000,"connectTimeoutMs":300}' <<'EOF'
::1 8080 open
::1 8081 closed
::1 9090 filtered
EOF

echo "recorded $(ls "$out"/*.xml | wc -l) fixtures in $out (nmap $nmap_version)" >&2
