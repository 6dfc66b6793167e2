#!/usr/bin/env bash
# The one test command (README.md; run by .ci/run with CI=true).
#
# Prepares what the integration tests need (each scripts/prepare.d/*.sh builds or checks one
# real server and exports where it is), then checks formatting and vet, then runs every
# test of the module. Under CI=true an integration test whose server is missing fails.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATAS_CACHE="${PATAS_CACHE:-$HOME/.cache/patas-secrets}"
mkdir -p "$PATAS_CACHE"

for prep in scripts/prepare.d/*.sh; do
	[[ -e "$prep" ]] || continue
	# shellcheck source=/dev/null
	source "$prep"
done

unformatted="$(gofmt -l $(git ls-files '*.go' | grep -v '^tools/') 2>/dev/null || true)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -count=1 -timeout 15m "$@" ./...

# The race detector, on every package that runs goroutines of its own: the engine (fetch
# fan-out, watchers, health), the notifier, exec's supervisor, the telemetry server, the
# backends (the Vault authenticator and lease timers, AWS batching, GCP), the sinks,
# saferead and the fault proxy. Not the whole module: cmd/ and deploy/ test a binary built
# without -race, and internal/reliability measures timing and memory that -race distorts.
# Needs cgo (gcc). PATAS_NO_RACE=1 skips it.
if [[ "${PATAS_NO_RACE:-}" != 1 ]]; then
	go test -race -count=1 -timeout 20m "$@" \
		./internal/engine/ ./internal/notify/ ./internal/supervisor/ ./internal/telemetry/ \
		./internal/saferead/ ./internal/testenv/faultproxy/ ./fetcher/... ./sinks/
fi
