#!/usr/bin/env bash
# bench/network.sh - the networking figures, berth side by side with dockerd (+containerd, runc,
# docker-proxy) and podman (+crun, netavark) in one run, on the same busybox image:
#   1. `run --rm busybox true` on the default bridge (a veth per run) and with --network none,
#      through the docker CLI (berth, dockerd), the berth CLI and podman; hyperfine medians,
#      ROUNDS rounds interleaved across engines, the median of the round medians is reported.
#   2. a published port on 127.0.0.1 (`-p 127.0.0.1:PORT:80`) to busybox httpd serving a
#      612-byte file and a 1 MiB file (busybox httpd closes every connection: each request is a
#      new TCP connection), loaded with wrk (WRK_DURATION, WRK_CONNS connections, WRK_THREADS threads,
#      --latency): the same httpd (the image's /bin/busybox, which is the host's /bin/busybox)
#      on the host's loopback without a container; berth with the kernel's DNAT (default);
#      berth with --userland-proxy=true; dockerd with its default docker-proxy; podman with its
#      default (netavark) port forwarding. Two phases of WRK_ROUNDS rounds (berth DNAT, then
#      berth userland proxy; host, dockerd and podman in every round); medians reported.
# berth runs as its own daemon (socket, data root, exec root in a temp dir, bridge bnb0 with
# 10.78.0.1/24), restarted with --userland-proxy=true for that case, stopped with SIGTERM.
# The peers come from ../shared/peers-bench (00-setup.sh starts dockerd; 99-teardown.sh, run on
# exit, stops it; KEEP_PEERS=1 skips the teardown).
# Usage: sudo bash bench/network.sh
#   (RUNS/WARMUP as in peers-bench/common.sh; ROUNDS=5, WRK_ROUNDS=3, WRK_DURATION=10s,
#    WRK_CONNS=4, WRK_THREADS=2). Log and raw data: $RESULTS/berth-network.txt, $RESULTS/net-*.
set -u -o pipefail
BENCH_NAME=netbench BENCH_BRIDGE=bnb0 BENCH_BIP=10.78.0.1/24
. "$(dirname "$0")/berth-daemon.sh"
ROUNDS=${ROUNDS:-5}
WRK_ROUNDS=${WRK_ROUNDS:-3}
WRK_DURATION=${WRK_DURATION:-10s}
WRK_CONNS=${WRK_CONNS:-4}
WRK_THREADS=${WRK_THREADS:-2}
out=$RESULTS/berth-network.txt
: > "$out"
say() { echo "$*" | tee -a "$out"; }
LABEL=peers-bench=network
hpid=""

cleanup() {
    set +e
    [ -n "$hpid" ] && { kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null; }
    if timeout 10 "$DOCKER" version >/dev/null 2>&1; then
        "$DOCKER" ps -aq --filter "label=$LABEL" | xargs -r "$DOCKER" rm -f >/dev/null
    fi
    "$PODMAN" ps -aq --filter "label=$LABEL" | xargs -r "$PODMAN" rm -f -t 0 >/dev/null
    [ "${KEEP_PEERS:-0}" = 1 ] || "$peers/99-teardown.sh" >"$RESULTS/net-99-teardown.log" 2>&1
    berth_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# setup after the trap, so that a failure from here on still tears down what 00-setup started
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y wrk >/dev/null ||
    { log "wrk missing and not installable"; exit 1; }
"$peers/00-setup.sh" >"$RESULTS/net-00-setup.log" 2>&1 || { log "peers setup failed (see $RESULTS/net-00-setup.log)"; exit 1; }
build_berth || exit 1
U=("${PODMAN_ULIMITS_ARR[@]}")

berth_start || exit 1
B import "$PEERS_STATE/busybox-rootfs.tar" busybox:latest >/dev/null || { log "berth import failed"; exit 1; }

say "# berth networking benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
say "docker client $("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null), dockerd $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null), podman $("$PODMAN" version --format '{{.Client.Version}}' 2>/dev/null) ($("$PODMAN" info --format '{{.Host.NetworkBackend}}' 2>/dev/null) $(dpkg-query -W -f='${Version}' netavark 2>/dev/null)), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), hyperfine $(hyperfine --version | cut -d' ' -f2)"
say "dockerd userland-proxy: $(pgrep -a dockerd | grep -q 'userland-proxy=false' && echo off || echo 'on (default)'); podman port forwarding: netavark"
say "load at start: $(cat /proc/loadavg)"

# ---------------------------------------------------------------- 1. run --rm latency
# what a default-bridge container sees at its first instruction (a veth with its address,
# up before the process starts), per engine
{ echo "eth0 inside a default-network container, as the process starts:"
  echo "  berth:   $(B run --rm busybox ip -o -4 addr show eth0 2>&1 | awk '{print $2, $4}')"
  echo "  dockerd: $("$DOCKER" run --rm busybox ip -o -4 addr show eth0 2>&1 | awk '{print $2, $4}')"
  echo "  podman:  $("$PODMAN" run --rm "${U[@]}" busybox ip -o -4 addr show eth0 2>&1 | awk '{print $2, $4}')"
} | tee -a "$out"
for r in $(seq 1 "$ROUNDS"); do
    log "run latency, round $r/$ROUNDS"
    for net in bridge none; do
        na=(); [ $net = none ] && na=(--network none)
        measure "net-run-$net-berth-cli-r$r" "$RUNS" "$WARMUP" "$BERTH" -H "unix://$bsock" run --rm "${na[@]}" busybox true
        measure "net-run-$net-berth-docker-cli-r$r" "$RUNS" "$WARMUP" env DOCKER_HOST="unix://$bsock" "$DOCKER" run --rm "${na[@]}" busybox true
        measure "net-run-$net-dockerd-r$r" "$RUNS" "$WARMUP" "$DOCKER" run --rm "${na[@]}" busybox true
        measure "net-run-$net-podman-r$r" "$RUNS" "$WARMUP" "$PODMAN" run --rm "${na[@]}" "${U[@]}" busybox true
    done 2>&1 | tee -a "$out"
done

# ---------------------------------------------------------------- 2. published port + wrk
# the same httpd binary everywhere: the image's /bin/busybox is a copy of the host's
bb=/bin/busybox
cmp -s "$bb" "$PEERS_STATE/rootfs/bin/busybox" && say "host httpd: $bb, identical to the image's /bin/busybox" ||
    say "WARNING: $bb differs from the image's /bin/busybox"
# $0 = document root, $1 = [addr:]port; a 612-byte index.html and a 1 MiB big.bin
srv='mkdir -p "$0" && printf "%0612d" 0 > "$0/index.html" &&
    dd if=/dev/zero of="$0/big.bin" bs=1024 count=1024 2>/dev/null && exec busybox httpd -f -p "$1" -h "$0"'
read -r P_HOST P_BERTH P_PROXY P_DOCKER P_PODMAN < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

wait_http() { # url -> 0 once it serves the 612-byte file
    for _ in $(seq 100); do
        [ "$(curl -s --max-time 1 "$1" | wc -c)" = 612 ] && return 0
        sleep 0.1
    done
    log "no 612-byte answer from $1"; return 1
}
wrkdata=$RESULTS/net-wrk.tsv
: > "$wrkdata"
# TcpExt TCPSynRetrans of the host's network namespace (where wrk's connects are): a SYN
# not answered within the initial RTO (1 s) is retransmitted and stalls that connection
syn_retrans() {
    awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[$i] = i; h = 1 } else print $n["TCPSynRetrans"] }' /proc/net/netstat
}
wrk_one() { # name url round
    local f=$RESULTS/net-wrk-$1-r$3.txt s0 s1
    wait_http "${2%/*}/index.html" || { printf '%s\t%s\tFAILED\n' "$1" "$3" >> "$wrkdata"; return 1; }
    wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d2s "$2" >/dev/null 2>&1 # warm-up
    { echo "### wrk $1 round $3, load $(cat /proc/loadavg)"
      echo "\$ wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION --latency $2"
      s0=$(syn_retrans)
      wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --latency "$2"
      s1=$(syn_retrans)
      echo "SYN retransmits (host netns, whole machine) during the run: $((s1 - s0))"; } > "$f" 2>&1
    cat "$f" >> "$out"
    python3 - "$1" "$3" "$f" >> "$wrkdata" <<'PY'
import re, sys
name, rnd, path = sys.argv[1:]
t = open(path).read()
def sec(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
avg = sec(re.search(r"Latency\s+(\S+)", t).group(1))
p99 = sec(re.search(r"\s99%\s+(\S+)", t).group(1))
errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", t))
errs += int((re.search(r"Non-2xx or 3xx responses: (\d+)", t) or [0, 0])[1])
syn = int(re.search(r"SYN retransmits .*: (-?\d+)", t).group(1))
print("%s\t%s\t%.1f\t%.6f\t%.6f\t%d\t%d" % (name, rnd, rps, avg, p99, errs, syn))
PY
}

# servers that stay up for all rounds: host, dockerd, podman
hdir=$bdir/host-www
"$bb" sh -c "$srv" "$hdir" "127.0.0.1:$P_HOST" >"$bdir/host-httpd.log" 2>&1 &
hpid=$!
ensure_docker0
"$DOCKER" run -d --label "$LABEL" --name peers-net-web -p "127.0.0.1:$P_DOCKER:80" busybox sh -c "$srv" /www 80 >/dev/null ||
    log "dockerd: server container failed"
"$PODMAN" run -d --label "$LABEL" --name peers-net-web "${U[@]}" -p "127.0.0.1:$P_PODMAN:80" busybox sh -c "$srv" /www 80 >/dev/null ||
    log "podman: server container failed"
{ echo "listeners on the published ports (who accepts loopback connections):"
  ss -Hltnp | grep -E ":($P_HOST|$P_BERTH|$P_PROXY|$P_DOCKER|$P_PODMAN)\b"
  echo "route_localnet: $(for f in /proc/sys/net/ipv4/conf/*/route_localnet; do [ "$(cat "$f")" = 1 ] && basename "$(dirname "$f")"; done | tr '\n' ' ')"
} | tee -a "$out"

# Two phases of WRK_ROUNDS rounds each, the peers and the host measured in both: first berth
# with its default kernel DNAT, then (daemon restarted) berth with --userland-proxy=true. Not
# alternated round by round: the server gets the same address (10.78.0.2) in both modes, and
# the proxy's connections (10.78.0.1:port -> 10.78.0.2:80, not NATed, so not flushed when the
# bridge goes) stay in conntrack for 120 s (TIME_WAIT); a DNAT round right after a proxy round
# then has its masqueraded source ports remapped around them and some SYNs dropped by the
# container's TIME_WAIT sockets (PAWS), each costing a 1 s retransmit. That is a property of
# mixing the two modes on one address within two minutes, not of either mode, so the
# benchmark keeps them apart (the SYN retransmit count of each run is logged to show it).
wrk_both() { # name port round: the small file, then the 1 MiB one
    wrk_one "$1" "http://127.0.0.1:$2/index.html" "$3"
    wrk_one "$1@1M" "http://127.0.0.1:$2/big.bin" "$3"
}
wrk_round() { # round berth-name berth-port
    log "published-port throughput, round $1 ($2)"
    wrk_both host "$P_HOST" "$1"
    B run -d --name bench-net-web -p "127.0.0.1:$3:80" busybox sh -c "$srv" /www 80 >/dev/null ||
        log "$2: server container failed"
    wrk_both "$2" "$3" "$1"
    [ "$1" = 1 ] || [ "$1" = $((WRK_ROUNDS + 1)) ] &&
        { echo "listeners on $2's published port:"; ss -Hltnp | grep -E ":$3\b" || echo "(none)"; } | tee -a "$out"
    B rm -f bench-net-web >/dev/null
    wrk_both dockerd "$P_DOCKER" "$1"
    wrk_both podman "$P_PODMAN" "$1"
}
for r in $(seq 1 "$WRK_ROUNDS"); do wrk_round "$r" berth "$P_BERTH"; done
berth_stop
berth_start --userland-proxy=true || exit 1
for r in $(seq $((WRK_ROUNDS + 1)) $((2 * WRK_ROUNDS))); do wrk_round "$r" berth-proxy "$P_PROXY"; done
kill "$hpid"; wait "$hpid" 2>/dev/null; hpid=""
"$DOCKER" rm -f peers-net-web >/dev/null
"$PODMAN" rm -f -t 0 peers-net-web >/dev/null
say "load at end: $(cat /proc/loadavg)"

# ---------------------------------------------------------------- summary
python3 - "$RESULTS" "$ROUNDS" "$wrkdata" "$WRK_ROUNDS" <<'PY' | tee -a "$out"
import json, statistics as st, sys
res, rounds, wrkdata, wrk_rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
med = st.median
print("\n## summary")
print("\n### run --rm busybox true (s; median over %d rounds, each round = hyperfine median)" % rounds)
runs = {}
for net in ("bridge", "none"):
    for who in ("berth-cli", "berth-docker-cli", "dockerd", "podman"):
        v = []
        for r in range(1, rounds + 1):
            try:
                v.append(json.load(open("%s/net-run-%s-%s-r%d.json" % (res, net, who, r)))["results"][0]["median"])
            except (OSError, KeyError, IndexError, ValueError):
                pass
        if v:
            runs[(net, who)] = med(v)
            print("%-7s %-17s median %.3f  rounds %s" % (net, who, med(v), " ".join("%.3f" % x for x in v)))
for net in ("bridge", "none"):
    d, p = runs.get((net, "dockerd")), runs.get((net, "podman"))
    for who in ("berth-docker-cli", "berth-cli"):
        b = runs.get((net, who))
        if b and d and p:
            print("%-7s %-17s / dockerd %.2f   / podman %.2f" % (net, who, b / d, b / p))
for who in ("berth-cli", "berth-docker-cli", "dockerd", "podman"):
    if (("bridge", who) in runs) and (("none", who) in runs):
        print("bridge - none, %-17s %+.3f s" % (who, runs[("bridge", who)] - runs[("none", who)]))
print("\n### published port 127.0.0.1, wrk (medians over rounds: req/s, avg and p99 latency in ms; socket errors; SYN retransmits per round)")
rows = {}
for line in open(wrkdata):
    f = line.rstrip("\n").split("\t")
    if len(f) == 7:
        rows.setdefault(f[0], []).append(tuple(float(x) for x in f[2:]) + (int(f[1]),))
    else:
        print("FAILED:", line.strip())
for size, sfx in (("612 B file", ""), ("1 MiB file", "@1M")):
    print("\n%s:" % size)
    names = [n + sfx for n in ("host", "berth", "berth-proxy", "dockerd", "podman")]
    w = {}
    for name in names:
        v = rows.get(name)
        if not v:
            continue
        w[name] = (med(x[0] for x in v), med(x[1] for x in v), med(x[2] for x in v), sum(x[3] for x in v))
        print("%-14s rps %8.0f  avg %7.3f ms  p99 %7.3f ms  errors %d   rounds rps %s  SYN retransmits %s" % (
            name, w[name][0], w[name][1] * 1e3, w[name][2] * 1e3, w[name][3], " ".join("%.0f" % x[0] for x in v),
            " ".join("%d" % x[4] for x in v)))
    # the same medians per phase (phase 1: rounds with berth DNAT, phase 2: with the userland proxy)
    for ph, lo, hi in ((1, 1, wrk_rounds), (2, wrk_rounds + 1, 2 * wrk_rounds)):
        line = []
        for name in names:
            v = [x for x in rows.get(name, []) if lo <= x[5] <= hi]
            if v:
                line.append("%s %.0f req/s %.3f ms" % (name, med(x[0] for x in v), med(x[1] for x in v) * 1e3))
        print("phase %d: %s" % (ph, ", ".join(line)))
    h, d, p = "host" + sfx, "dockerd" + sfx, "podman" + sfx
    for name in names[1:]:
        if name in w and h in w:
            print("%-14s rps / host %.2f   avg latency / host %.2f" % (name, w[name][0] / w[h][0], w[name][1] / w[h][1]))
    for name in names[1:3]:
        if name in w and d in w and p in w:
            print("%-14s rps / dockerd %.2f   rps / podman %.2f   avg latency / dockerd %.2f   / podman %.2f" % (
                name, w[name][0] / w[d][0], w[name][0] / w[p][0], w[name][1] / w[d][1], w[name][1] / w[p][1]))
PY
say "log: $out"
