#!/usr/bin/env bash
# What the AWS SDK costs every command of the default build, part by part (issue 18).
#
# Builds cmd/patas-secrets without the aws backend (-tags no_aws), then the same build plus a
# blank import of one part of aws-sdk-go-v2 at a time (added with `go build -overlay`, so the
# tree is not touched). A blank import links no code, but the package's init, and its
# dependencies' inits, run in every command. For each build: stripped size, packages with an
# init and the heap they allocate (GODEBUG=inittrace=1), and, for `version` (start and exit),
# the median page faults and peak RSS of BENCH_RUNS runs. consul-template is measured the same
# way when it is in the cache (bench/run.sh builds it). Page faults and init heap do not depend
# on load; run it on an idle machine all the same.
#
#   bench/aws-cost.sh          prints a markdown table
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${BENCH_RUNS:-9}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[[ -x /usr/bin/time ]] || { echo "aws-cost: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

# NAME|TAGS|IMPORTS (space separated; none: no extra import)
cases=(
	"without aws (-tags no_aws)|no_aws|"
	"+ config (the SDK's default credential chain)|no_aws|github.com/aws/aws-sdk-go-v2/config"
	"+ service/secretsmanager + service/ssm|no_aws|github.com/aws/aws-sdk-go-v2/service/secretsmanager github.com/aws/aws-sdk-go-v2/service/ssm"
	"+ service/sts (web identity, assume role)|no_aws|github.com/aws/aws-sdk-go-v2/service/sts"
	"+ signer/v4, credentials, ec2rolecreds, endpointcreds|no_aws|github.com/aws/aws-sdk-go-v2/aws/signer/v4 github.com/aws/aws-sdk-go-v2/credentials github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"+ all four above (every init the aws backend runs, none of its code)|no_aws|github.com/aws/aws-sdk-go-v2/config github.com/aws/aws-sdk-go-v2/service/secretsmanager github.com/aws/aws-sdk-go-v2/service/ssm github.com/aws/aws-sdk-go-v2/service/sts github.com/aws/aws-sdk-go-v2/aws/signer/v4 github.com/aws/aws-sdk-go-v2/credentials github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"default build (every backend)||"
)

measure() { # BIN ARGS...: "faults rss_kib" medians of $runs runs
	local f="$work/time.txt"
	: >"$f"
	for _ in $(seq "$runs"); do /usr/bin/time -a -o "$f" -f "%R %M" "$@" >/dev/null 2>&1; done
	echo "$(cut -d' ' -f1 "$f" | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)') $(cut -d' ' -f2 "$f" | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)')"
}
inits() { # BIN ARGS...: "packages bytes" from the init trace
	GODEBUG=inittrace=1 "$@" 2>&1 >/dev/null | awk '/^init /{n++; b += $8} END{print n, b}'
}
row() { # NAME BIN ARGS...: one table row
	local name="$1" faults rss n heap
	shift
	read -r faults rss <<<"$(measure "$@")"
	read -r n heap <<<"$(inits "$@")"
	printf '| %s | %.1f MB | %d | %d kB | %d | %.1f MiB |\n' "$name" "$(stat -c %s "$1")e-6" "$n" "$((heap / 1000))" "$faults" "$(echo "$rss / 1024" | bc -l)"
}

echo "| build | stripped | inits | init heap | \`version\` page faults | \`version\` peak RSS |"
echo "|---|---|---|---|---|---|"
i=0
for c in "${cases[@]}"; do
	IFS='|' read -r name tags imports <<<"$c"
	i=$((i + 1))
	overlay=()
	if [[ -n "$imports" ]]; then
		{
			echo "package main"
			echo
			for p in $imports; do echo "import _ \"$p\""; done
		} >"$work/extra$i.go"
		printf '{"Replace": {"%s": "%s"}}\n' "$root/cmd/patas-secrets/zz_aws_cost.go" "$work/extra$i.go" >"$work/overlay$i.json"
		overlay=(-overlay "$work/overlay$i.json")
	fi
	bin="$work/b$i"
	CGO_ENABLED=0 go build ${tags:+-tags "$tags"} "${overlay[@]}" -trimpath -ldflags "-s -w" -o "$bin" ./cmd/patas-secrets
	row "$name" "$bin" version
done
ct="$(ls "${PATAS_CACHE:-$HOME/.cache/patas-secrets}"/consul-template-*/consul-template 2>/dev/null | head -1 || true)"
if [[ -n "$ct" ]]; then
	row "consul-template ($(basename "$(dirname "$ct")"))" "$ct" -version
fi
