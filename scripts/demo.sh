#!/usr/bin/env bash
# The main job, end to end on a machine with no internet: build berth, start the daemon, make a
# busybox base image from Debian's busybox-static, run containers, build an image and push/pull
# it through `berth registry serve` on 127.0.0.1, and serve a page from a container.
# State goes under a temp dir (BERTH_DEMO_DIR to choose), removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

bash scripts/setup.sh
cargo build --release -p berth
berth=$repo/target/release/berth

dir=${BERTH_DEMO_DIR:-$(mktemp -d /tmp/berth-demo.XXXXXX)}
sock=$dir/berth.sock
export DOCKER_HOST=unix://$sock
port=${BERTH_DEMO_PORT:-18080}
regport=${BERTH_DEMO_REGISTRY_PORT:-18081}
registry=""

"$berth" daemon -H "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
    --cgroup-parent "/berth-demo-$$" >"$dir/daemon.log" 2>&1 &
daemon=$!
cleanup() {
    "$berth" rm -f demo-web demo-db >/dev/null 2>&1 || true
    "$berth" network rm demo-net >/dev/null 2>&1 || true
    [ -z "$registry" ] || { kill "$registry" 2>/dev/null; wait "$registry" 2>/dev/null; } || true
    kill "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    [ -n "${BERTH_DEMO_DIR:-}" ] || rm -rf "$dir"
    # the (empty) cgroups the daemon made under its cgroup parent
    for d in "/sys/fs/cgroup/berth-demo-$$" /sys/fs/cgroup/*/"berth-demo-$$"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    true
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done

echo "== base image from busybox-static"
fixtures=${BERTH_FIXTURES:-$repo/../shared/fixtures}
[ -d "$fixtures" ] || fixtures=/work/shared/fixtures
sh "$fixtures/make-busybox-rootfs.sh" "$dir/rootfs" "$dir/busybox.tar" >/dev/null
"$berth" import "$dir/busybox.tar" busybox:latest
"$berth" images

echo "== run containers"
"$berth" run --rm busybox echo "hello from a berth container"
"$berth" run --rm busybox sh -c 'echo "hostname: $(hostname)"; ls /proc/self/ns | tr "\n" " "; echo'

echo "== containers talk by name on a user network"
"$berth" network create demo-net >/dev/null
"$berth" run -d --name demo-db --network demo-net busybox sh -c 'echo pong > /tmp/p; exec httpd -f -p 80 -h /tmp' >/dev/null
"$berth" run --rm --network demo-net busybox wget -qO- http://demo-db/p

echo "== build an image from a Dockerfile, share it through berth's own registry"
mkdir -p "$dir/app"
printf 'FROM busybox\nRUN echo "built by berth" > /built\nCMD ["cat", "/built"]\n' > "$dir/app/Dockerfile"
"$berth" build -t demo-app "$dir/app"
"$berth" registry serve --addr "127.0.0.1:$regport" --root "$dir/registry" >"$dir/registry.log" 2>&1 &
registry=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$regport/v2/" >/dev/null && break; sleep 0.1; done
"$berth" tag demo-app "127.0.0.1:$regport/demo/app:1"
"$berth" push "127.0.0.1:$regport/demo/app:1"
"$berth" rmi demo-app "127.0.0.1:$regport/demo/app:1" >/dev/null
"$berth" pull "127.0.0.1:$regport/demo/app:1"
"$berth" run --rm "127.0.0.1:$regport/demo/app:1"

echo "== serve a page (published port on the default bridge)"
"$berth" run -d --name demo-web -p "127.0.0.1:$port:80" busybox \
    sh -c "mkdir -p /www && echo '<h1>served by berth</h1>' > /www/index.html && exec httpd -f -p 80 -h /www"
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/" && break; sleep 0.1; done
"$berth" ps
echo "== done"
