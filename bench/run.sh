#!/usr/bin/env bash
# The benchmarks of issues 9 and 18 in one command: builds the static binary, gets the test
# Vault (scripts/prepare.d/vault.sh), moto and consul-template, measures `once`, the sidecar,
# propagation and API calls per refresh (bench/bench.py), patas-secrets (default and
# per-backend builds) side by side with consul-template and Vault Agent (bench/compare.py),
# optionally a fleet of sidecars (bench/fleet.py), runs the engine's propagation benchmark,
# and rewrites docs/benchmarks.md (and bench/results.json) with the figures.
#
#   bench/run.sh    BENCH_RUNS=N (default 11) runs per median; BENCH_SETTLE, BENCH_WINDOW
#                   (seconds, default 10 and 30) for the sidecar; BENCH_CHANGES (default 30);
#                   BENCH_ROUNDS (default 15) alternating rounds and BENCH_SIDECAR_SETTLE
#                   (default 20 s) of the side by side; BENCH_FLEET=N runs the fleet (N sidecars)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${PATAS_CACHE:-$HOME/.cache/patas-secrets}"
runs="${BENCH_RUNS:-11}"
ct_version=v0.41.1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
# BENCH_NO_VAULT=1: no test Vault at hand (it takes long to build on a loaded machine): only
# the side by side on files (and the fleet on AWS) are measured; the other sections of
# docs/benchmarks.md keep the figures of the last full run (bench/results.json), with its date.
if [[ -z "${BENCH_NO_VAULT:-}" ]]; then
	# shellcheck source=/dev/null
	source scripts/prepare.d/vault.sh
else
	PATAS_TEST_VAULT_BIN=""
fi
# shellcheck source=/dev/null
source scripts/prepare.d/aws.sh
[[ -n "${PATAS_TEST_MOTO_BIN:-}" ]] || { echo "bench: moto_server is needed (pip install 'moto[server]>=5')" >&2; exit 1; }
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "bench: building" >&2
bin="$work/patas-secrets"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin" ./cmd/patas-secrets
CGO_ENABLED=0 go build -trimpath -o "$work/patas-secrets-syms" ./cmd/patas-secrets
# Static: an ELF64 with no PT_INTERP program header (no dynamic loader asked for).
static="$(python3 - "$bin" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", b, 0x20)
phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
print(str(all(struct.unpack_from("<I", b, phoff + i * phentsize)[0] != 3 for i in range(phnum))).lower())
PY
)"

# consul-template, for the side-by-side `-once`, from the module proxy into the cache.
ct="$cache/consul-template-$ct_version/consul-template"
ct_error=""
if [[ ! -x "$ct" ]]; then
	echo "bench: building consul-template $ct_version (cold: minutes)" >&2
	mkdir -p "$(dirname "$ct")"
	if ! (cd "$work" && GOWORK=off GOFLAGS= CGO_ENABLED=0 GOBIN="$(dirname "$ct")" \
		go install -trimpath -ldflags "-s -w" "github.com/hashicorp/consul-template@$ct_version") 2>"$work/ct.err"; then
		ct_error="$(tail -3 "$work/ct.err" | tr '\n' ' ')"
		echo "bench: consul-template could not be built: $ct_error" >&2
		ct=""
	fi
fi

if [[ -z "${BENCH_NO_VAULT:-}" ]]; then
	echo "bench: engine propagation benchmark" >&2
	go test -run '^$' -bench KubernetesSwap -benchtime 30x ./internal/engine >"$work/engine.txt"

	echo "bench: measuring (about 4 minutes)" >&2
	python3 bench/bench.py --bin "$bin" --vault "$PATAS_TEST_VAULT_BIN" --moto "$PATAS_TEST_MOTO_BIN" \
		--consul-template "$ct" --runs "$runs" --settle "${BENCH_SETTLE:-10}" --window "${BENCH_WINDOW:-30}" \
		--changes "${BENCH_CHANGES:-30}" >"$work/figures.json"
else
	echo "bench: BENCH_NO_VAULT: keeping the figures of the last full run" >&2
	cp bench/results.json "$work/figures.json"
	: >"$work/engine.txt"
fi

# Side by side (issue 18): the default build and one build per backend (build tags of
# cmd/patas-secrets, when this tree has them), consul-template and Vault Agent, alternating.
builds=(--build "default=$bin")
variant() { # NAME TAGS BACKENDS: built only if the tags change what is linked
	local deps_all deps_tag
	deps_all="$(go list -deps ./cmd/patas-secrets | wc -l)"
	deps_tag="$(go list -tags "$2" -deps ./cmd/patas-secrets | wc -l)"
	if [[ "$deps_tag" == "$deps_all" ]]; then
		echo "bench: -tags $2 links the same packages here; no $1 build" >&2
		return
	fi
	CGO_ENABLED=0 go build -tags "$2" -trimpath -ldflags "-s -w" -o "$work/patas-secrets-$1" ./cmd/patas-secrets
	builds+=(--build "$1=$work/patas-secrets-$1@$3")
}
variant vault-only no_aws,no_gcp vault,file
variant aws-only no_vault,no_gcp file
variant gcp-only no_vault,no_aws file
variant file-only no_vault,no_aws,no_gcp file
if [[ -n "$ct" ]]; then
	echo "bench: side by side with consul-template and Vault Agent (${BENCH_ROUNDS:-15} rounds)" >&2
	python3 bench/compare.py "${builds[@]}" --vault "${PATAS_TEST_VAULT_BIN:-}" --consul-template "$ct" \
		--rounds "${BENCH_ROUNDS:-15}" --settle "${BENCH_SIDECAR_SETTLE:-20}" >"$work/compare.json"
else
	echo '{}' >"$work/compare.json"
fi
# Fleet simulation (long: ~15 minutes and ~N x 6 MiB of memory): BENCH_FLEET=1000 runs it and
# keeps bench/fleet.json; otherwise the last fleet.json is reported again.
if [[ -n "${BENCH_FLEET:-}" ]]; then
	echo "bench: fleet of $BENCH_FLEET sidecars" >&2
	python3 bench/fleet.py --bin "$bin" --vault "${PATAS_TEST_VAULT_BIN:-}" --moto "$PATAS_TEST_MOTO_BIN" \
		--n "$BENCH_FLEET" >"$work/fleet.json"
	python3 - "$work/fleet.json" bench/fleet.json <<'PY'
import json, sys, time
d = json.load(open(sys.argv[1]))
d["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
d["load"] = " ".join(open("/proc/loadavg").read().split()[:3])
old = {}
try:
    old = json.load(open(sys.argv[2]))
except OSError:
    pass
d["sizing"] = old.get("sizing", "")
json.dump(d, open(sys.argv[2], "w"), indent=1, sort_keys=True)
PY
fi

# Sizes and start-up costs by package.
go tool nm -size "$work/patas-secrets-syms" | awk '$3=="T"||$3=="t"{p=$4; sub(/\.[^\/]*$/,"",p); s[p]+=$2} END{for(k in s) print s[k], k}' |
	sort -rn | awk 'NR <= 15' >"$work/top.txt"
for _ in 1 2 3; do GODEBUG=inittrace=1 "$bin" version 2>&1 >/dev/null; done |
	awk '/^init /{m[$2]+=$8} END{for(k in m) print int(m[k]/3), k}' | sort -rn | awk 'NR <= 12' >"$work/inits.txt"

BENCH_NO_VAULT="${BENCH_NO_VAULT:-}" python3 - "$work" "$bin" "$ct" "$ct_error" "$static" "$load_before" "$runs" <<'PY' >"$work/results.json"
import json, os, platform, subprocess, sys, time
work, binary, ct, ct_error, static, load_before, runs = sys.argv[1:]
d = json.load(open(os.path.join(work, "figures.json")))
if os.environ.get("BENCH_NO_VAULT"):
    old = d.get("partial", {}).get("full_run") or d["machine"]
    d["partial"] = {"full_run": old}
def first(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
moto_py = open(os.environ["PATAS_TEST_MOTO_BIN"]).readline()[2:].strip().split()[-1]
d["machine"] = {
    "cpu": cpu, "cores": os.cpu_count(), "mem": f"{mem / 1048576:.0f} GiB", "kernel": platform.release(),
    "go": first(["go", "version"]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "load_before": load_before, "load_after": " ".join(open("/proc/loadavg").read().split()[:3]),
    "vault": first([os.environ["PATAS_TEST_VAULT_BIN"], "version"]) if os.environ.get("PATAS_TEST_VAULT_BIN")
             else d.get("partial", {}).get("full_run", {}).get("vault", "no Vault"),
    "moto": first([moto_py if "python" in moto_py else "python3", "-c", "import moto; print(moto.__version__)"]),
    "consul_template": first([ct, "-version"]) if ct else "",
}
d["params"] = {"runs": int(runs), "settle": float(os.environ.get("BENCH_SETTLE", 10)),
               "window": float(os.environ.get("BENCH_WINDOW", 30)), "tick": os.sysconf("SC_CLK_TCK")}
if ct_error:
    d["consul_template_error"] = ct_error
d["compare"] = json.load(open(os.path.join(work, "compare.json")))
if os.path.exists("bench/fleet.json"):
    d["fleet"] = json.load(open("bench/fleet.json"))
d["build"] = {
    "stripped_bytes": os.path.getsize(binary), "unstripped_bytes": os.path.getsize(binary + "-syms"),
    "static": static == "true",
    "consul_template_bytes": os.path.getsize(ct) if ct else 0,
    "top_packages": [(l.split()[1], int(l.split()[0])) for l in open(os.path.join(work, "top.txt"))],
    "top_inits": [(l.split()[1], int(l.split()[0])) for l in open(os.path.join(work, "inits.txt"))],
}
for line in open(os.path.join(work, "engine.txt")):
    if line.startswith("BenchmarkKubernetesSwap"):
        f = line.split()
        d["engine_bench"] = {"n": int(f[1]), "median_ms": float(f[f.index("median-ms") - 1]), "p90_ms": float(f[f.index("p90-ms") - 1])}
json.dump(d, sys.stdout, indent=1, sort_keys=True)
print()
PY
cp "$work/results.json" bench/results.json
python3 bench/report.py bench/results.json bench/findings.md >docs/benchmarks.md
echo "bench: wrote docs/benchmarks.md and bench/results.json" >&2
