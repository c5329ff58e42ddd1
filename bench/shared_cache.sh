#!/usr/bin/env bash
# Benchmark (not a test): a shared build cache on a fresh CI runner (issue #13).
# For each case, runner A builds the project once and exports its cache to the
# registry; then, REPS times, runner B -- a fresh runner with an empty store --
# rebuilds the unchanged project from that cache and pushes the image. Timed:
# B's whole build + push. Also recorded per B: steps run / cached, and the bytes
# the registry served during B (from its access log), split into layer blobs,
# other blobs (configs, cache metadata) and manifests, plus the size of B's
# store afterwards.
#   kiln:     A: kiln --root EMPTY build --cache-to type=registry,ref=R:cache,mode=max -t R:a --push
#             B: kiln --root EMPTY build --cache-from type=registry,ref=R:cache -t R:bN --push
#   buildkit: Docker's embedded BuildKit with its inline cache, as the shared
#             anchor (bench-cache-anchor.sh) runs it: A builds with
#             BUILDKIT_INLINE_CACHE=1 and pushes R:cache; B starts from
#             `docker system prune -af` and times build --cache-from R:cache + push.
# Uses the anchor harness's registry, contexts and private dockerd (start them
# first: registry.sh start, prepare-contexts.sh, docker-daemon.sh start):
#   KILN=out/cli/kiln REPS=3 CASES="manyrun bigctx" bench/shared_cache.sh
# Env: KB (harness root, default $KILN_BENCH_ROOT or /var/tmp/kiln-bench), KILN,
# REG (127.0.0.1:5000), REGLOG (the registry's access log, $KB/registry.log),
# CASES, REPS, TOOLS ("kiln buildkit"), DOCKER_BIN (/usr/bin/docker),
# KEEP (a directory to copy raw.csv, logs and the fetched URIs into).
# Bytes are counted for the case's repository and the base (busybox) only;
# requests to other repositories in B's window (someone else using the shared
# registry) are reported as "foreign" and not counted.
set -euo pipefail
KB=${KB:-${KILN_BENCH_ROOT:-/var/tmp/kiln-bench}}
KILN=$(realpath "${KILN:-$(dirname "$0")/../out/cli/kiln}")
REG=${REG:-127.0.0.1:5000}
REGLOG=${REGLOG:-$KB/registry.log}
CASES=${CASES:-manyrun bigctx}
REPS=${REPS:-3}
TOOLS=${TOOLS:-kiln buildkit}
DOCKER_BIN=${DOCKER_BIN:-/usr/bin/docker}
DOCKER_SOCK=${DOCKER_SOCK:-$KB/docker/docker.sock}
DOCKER_ROOT=${DOCKER_ROOT:-$KB/docker/data}
KEEP=${KEEP:-}

work=$(mktemp -d)
cleanup() {
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp -r "$work/logs" "$work/raw.csv" "$KEEP/" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/logs"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
dk() { "$DOCKER_BIN" -H "unix://$DOCKER_SOCK" "$@"; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b-a)/1e9}'; }
loglines() { wc -l < "$REGLOG"; }

curl -fsS "http://$REG/v2/" >/dev/null || { log "no registry on $REG (registry.sh start)"; exit 1; }
[ -r "$REGLOG" ] || { log "registry log $REGLOG not readable"; exit 1; }
case " $TOOLS " in *" buildkit "*)
  dk version >/dev/null 2>&1 || { log "no dockerd on $DOCKER_SOCK (docker-daemon.sh start)"; exit 1; } ;;
esac

# layers.py REF...: prints the digest of every layer descriptor of these
# manifests (indexes are followed), so that blob GETs can be classified.
cat > "$work/layers.py" <<'PY'
import json, sys, urllib.request
reg = sys.argv[1]
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json"])
def walk(name, ref, out):
    req = urllib.request.Request(f"http://{reg}/v2/{name}/manifests/{ref}", headers={"Accept": ACCEPT})
    try:
        m = json.load(urllib.request.urlopen(req))
    except Exception as e:
        print(f"# {name}:{ref}: {e}", file=sys.stderr); return
    for d in m.get("manifests", []):
        if "layer" in d.get("mediaType", ""): out.add(d["digest"])
        else: walk(name, d["digest"], out)
    for d in m.get("layers", []): out.add(d["digest"])
out = set()
for r in sys.argv[2:]:
    name, _, tag = r.rpartition(":")
    walk(name, tag, out)
print("\n".join(sorted(out)))
PY

# count.py LOGSLICE LAYERS REPO_REGEX URIS_OUT: sums the bytes of successful GETs
# in the slice of the combined access log. Prints
# "layer_bytes other_blob_bytes manifest_bytes layer_gets foreign_requests".
cat > "$work/count.py" <<'PY'
import re, sys
slice_, layers_f, repo_re, uris_out = sys.argv[1:5]
layers = set(open(layers_f).read().split())
repo = re.compile(repo_re)
line_re = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) (\d+|-)')
uri_re = re.compile(r'^/v2/(.+)/(blobs|manifests)/([^/?]+)')
lb = ob = mb = lg = foreign = 0
with open(uris_out, "w") as uo:
    for line in open(slice_, errors="replace"):
        m = line_re.search(line)
        if not m: continue
        meth, uri, status, size = m.group(1), m.group(2), int(m.group(3)), m.group(4)
        u = uri_re.match(uri)
        if not u: continue
        name, kind, ref = u.groups()
        if not repo.match(name):
            foreign += 1; continue
        n = 0 if size == "-" else int(size)
        if meth != "GET" or not 200 <= status < 300: continue
        if kind == "manifests": mb += n; cls = "manifest"
        elif ref in layers: lb += n; lg += 1; cls = "layer"
        else: ob += n; cls = "blob"
        uo.write(f"{cls} {n} {uri}\n")
print(lb, ob, mb, lg, foreign)
PY

# runs_bk LOG: "run cached" from BuildKit's plain progress (a RUN step that
# printed CACHED was not executed).
runs_bk() {
  local ids_run ids_cached
  ids_run=$(grep -oE '^#[0-9]+ \[[^]]*\] RUN' "$1" | awk '{print $1}' | sort -u)
  ids_cached=$(grep -oE '^#[0-9]+ CACHED' "$1" | awk '{print $1}' | sort -u)
  echo "$(comm -23 <(echo "$ids_run") <(echo "$ids_cached") | grep -c . || true)" \
       "$(comm -12 <(echo "$ids_run") <(echo "$ids_cached") | grep -c . || true)"
}

runner_a() {  # tool case
  local tool=$1 c=$2 ctx=$KB/ctx/$2
  case $tool in
  kiln)
    local ref=$REG/kb-cache/kiln-$c
    "$KILN" --root "$work/root-a-$c" build --progress=plain \
      --cache-to "type=registry,ref=$ref:cache,mode=max" -t "$ref:a" --push "$ctx" \
      >"$work/logs/a-kiln-$c.log" 2>&1
    rm -rf "$work/root-a-$c" ;;
  buildkit)
    local ref=$REG/kb-cache/bk-$c
    dk system prune -af >/dev/null 2>&1
    DOCKER_BUILDKIT=1 dk build --network=host --progress=plain --build-arg BUILDKIT_INLINE_CACHE=1 \
      -t "$ref:cache" "$ctx" >"$work/logs/a-buildkit-$c.log" 2>&1 &&
      dk push "$ref:cache" >>"$work/logs/a-buildkit-$c.log" 2>&1 ;;
  esac
}

# runner_b tool case rep: appends one row to raw.csv.
runner_b() {
  local tool=$1 c=$2 r=$3 ctx=$KB/ctx/$2 blog=$work/logs/b-$1-$2-$r.log
  local ref rc=0 t0 t1 l0 l1 run cached root_bytes name
  if [ "$tool" = kiln ]; then name=kb-cache/kiln-$c; else name=kb-cache/bk-$c; fi
  ref=$REG/$name
  if [ "$tool" = kiln ]; then rm -rf "$work/root-b"; mkdir "$work/root-b"; else dk system prune -af >/dev/null 2>&1; fi
  sync
  l0=$(loglines); t0=$(now)
  case $tool in
  kiln)
    "$KILN" --root "$work/root-b" build --progress=plain \
      --cache-from "type=registry,ref=$ref:cache" -t "$ref:b$r" --push \
      --metadata-file "$work/meta.json" "$ctx" >"$blog" 2>&1 || rc=$? ;;
  buildkit)
    { DOCKER_BUILDKIT=1 dk build --network=host --progress=plain --cache-from "$ref:cache" \
        -t "$ref:b$r" "$ctx" >"$blog" 2>&1 && dk push "$ref:b$r" >>"$blog" 2>&1; } || rc=$? ;;
  esac
  t1=$(now)
  sleep 0.3; l1=$(loglines)
  if [ "$l1" -lt "$l0" ]; then log "registry log shrank during $tool $c rep $r (registry restarted?)"; l0=0; fi
  sed -n "$((l0 + 1)),${l1}p" "$REGLOG" > "$work/logs/reg-$tool-$c-$r.log"
  if [ "$tool" = kiln ]; then
    run=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("kiln.steps.run","?"))' "$work/meta.json" 2>/dev/null || echo "?")
    cached=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("kiln.steps.cached","?"))' "$work/meta.json" 2>/dev/null || echo "?")
    root_bytes=$(du -sb "$work/root-b" | cut -f1)
    rm -f "$work/meta.json"
  else
    read -r run cached < <(runs_bk "$blog")
    root_bytes=$(du -sb "$DOCKER_ROOT" 2>/dev/null | cut -f1 || echo "?")
  fi
  python3 "$work/layers.py" "$REG" "$name:cache" "$name:b$r" "${name}:a" busybox:latest \
    > "$work/layers.txt" 2>/dev/null || true
  local counts
  counts=$(python3 "$work/count.py" "$work/logs/reg-$tool-$c-$r.log" "$work/layers.txt" \
    "^(${name}|busybox)\$" "$work/logs/uris-$tool-$c-$r.txt")
  read -r lb ob mb lg foreign <<<"$counts"
  echo "$c,$tool,$r,$(secs "$t0" "$t1"),$rc,$run,$cached,$lb,$ob,$mb,$lg,$foreign,$root_bytes" >> "$work/raw.csv"
  log "$c $tool rep $r: $(secs "$t0" "$t1") s rc=$rc run=$run cached=$cached layer=${lb}B other-blob=${ob}B manifest=${mb}B foreign-req=$foreign store=${root_bytes}B"
}

echo "case,tool,rep,seconds,rc,steps_run,steps_cached,layer_bytes,other_blob_bytes,manifest_bytes,layer_gets,foreign_requests,store_bytes" > "$work/raw.csv"
for c in $CASES; do
  for tool in $TOOLS; do
    log "$c: runner A ($tool)"
    runner_a "$tool" "$c" || { log "runner A failed for $tool $c; see the log"; tail -20 "$work/logs/a-$tool-$c.log" >&2; exit 1; }
  done
  for r in $(seq 1 "$REPS"); do
    order=$TOOLS
    # alternate the order per rep, so that neither tool always goes first
    [ $((r % 2)) -eq 0 ] && order=$(echo "$TOOLS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for tool in $order; do runner_b "$tool" "$c" "$r"; done
  done
done

cat "$work/raw.csv"
echo
python3 - "$work/raw.csv" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = lambda xs: st.median(xs) if xs else float("nan")
def num(v):
    try: return float(v)
    except ValueError: return float("nan")
print("| case | tool | fresh-runner rebuild s (median) | ratio kiln/BuildKit | RUN steps executed | layer bytes downloaded | other bytes downloaded (blobs + manifests) | store after B |")
print("|---|---|---|---|---|---|---|---|")
cases = list(dict.fromkeys(r["case"] for r in rows))
for c in cases:
    by = {}
    for r in rows:
        if r["case"] == c: by.setdefault(r["tool"], []).append(r)
    t = {k: med([num(r["seconds"]) for r in v]) for k, v in by.items()}
    for tool, rs in by.items():
        ratio = f'{t["kiln"] / t["buildkit"]:.2f}' if tool == "kiln" and "buildkit" in t else ""
        runs = "/".join(sorted(set(r["steps_run"] for r in rs)))
        lb = med([num(r["layer_bytes"]) for r in rs])
        ob = med([num(r["other_blob_bytes"]) + num(r["manifest_bytes"]) for r in rs])
        sb = med([num(r["store_bytes"]) for r in rs])
        fail = "" if all(r["rc"] == "0" for r in rs) else " (FAILED: rc " + ",".join(r["rc"] for r in rs) + ")"
        name = "BuildKit (inline cache)" if tool == "buildkit" else tool
        print(f"| {c} | {name}{fail} | {t[tool]:.2f} | {ratio} | {runs} | {lb:,.0f} | {ob:,.0f} | {sb:,.0f} |")
PY
