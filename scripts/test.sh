#!/usr/bin/env bash
# The one test command (README.md; run by .ci/run with CI=true).
#
# Prepares what the integration tests need (each scripts/prepare.d/*.sh builds or checks one
# real server and exports where it is), then checks formatting and vet, then runs every
# test of the module. Under CI=true an integration test whose server is missing fails.
set -euo pipefail
# Under nohup (SIGHUP ignored) every child inherits the ignore, and a POSIX shell cannot trap
# a signal that was ignored when it started: the tests that send SIGHUP to a shell (notify's
# process target, exec's forwarding) then wait for a signal that never arrives. Start again
# with SIGHUP at its default (python3 resets the two signals it ignores itself, too).
if (((0x$(awk '/^SigIgn:/{print $2}' /proc/$$/status) & 1) != 0)); then
	echo "test: SIGHUP is ignored (nohup?); restoring its default for the tests" >&2
	exec python3 -c 'import os, signal, sys; [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ)]; os.execvp(sys.argv[1], sys.argv[1:])' "$0" "$@"
fi
cd "$(dirname "$0")/.."

export PATAS_CACHE="${PATAS_CACHE:-$HOME/.cache/patas-secrets}"
mkdir -p "$PATAS_CACHE"
# The real-cluster tests (deploy/kubernetes) run by default; PATAS_KUBE_TESTS=0 leaves them
# (and the Kubernetes build, ~25 min cold on 2 cores) out, e.g. on a machine without root.
export PATAS_KUBE_TESTS="${PATAS_KUBE_TESTS:-1}"

# On a cold machine the three slow builds (the test Vault, Kubernetes, the app's Debian
# base) start side by side, so downloads and debootstrap's unpacking overlap the compiles
# instead of queueing behind them. Each build holds its own lock and cache; the sourcing
# below then finds them warm and exports where they are. Kubernetes is needed last (its
# tests run after every other package), so its build goes on, at a lower priority, while
# the other packages' tests run: they mostly wait on servers and containers and leave the
# CPU idle (measured: load ~1.5 on 2 cores). Logs of this warm-up:
# $PATAS_CACHE/warm-*.log. PATAS_SERIAL_PREPARE=1 skips it.
kube_warm=""
if [[ "${PATAS_SERIAL_PREPARE:-}" != 1 ]]; then
	warm_start=$SECONDS
	(source scripts/prepare.d/vault.sh) >"$PATAS_CACHE/warm-vault.log" 2>&1 &
	vault_warm=$!
	(deploy/app/base-image.sh >/dev/null) >"$PATAS_CACHE/warm-app-base.log" 2>&1 &
	base_warm=$!
	if [[ "${PATAS_KUBE_TESTS:-}" == 1 ]]; then
		(CI=true nice -n 10 bash -c 'source scripts/prepare.d/kubernetes.sh') >"$PATAS_CACHE/warm-kubernetes.log" 2>&1 &
		kube_warm=$!
	fi
	wait "$vault_warm" "$base_warm" || true
	echo "prepare: Vault and the app base warm after $((SECONDS - warm_start))s" >&2
fi

for prep in scripts/prepare.d/*.sh; do
	[[ -e "$prep" ]] || continue
	[[ "$prep" == */kubernetes.sh ]] && continue # sourced before its tests, below
	# shellcheck source=/dev/null
	source "$prep"
done

# kube_prepare waits for the background Kubernetes build and exports where it is.
kube_prepare() {
	if [[ -n "$kube_warm" ]]; then
		local waited=$SECONDS
		wait "$kube_warm" || true
		echo "prepare: Kubernetes ready; the tests waited $((SECONDS - waited))s for its build ($PATAS_CACHE/warm-kubernetes.log)" >&2
	fi
	# shellcheck source=/dev/null
	source scripts/prepare.d/kubernetes.sh
}

unformatted="$(gofmt -l $(git ls-files '*.go' | grep -v '^tools/') 2>/dev/null || true)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
# Every package is tested once. The race detector runs on every package that starts
# goroutines of its own: the engine (fetch fan-out, watchers, health), the notifier, exec's
# supervisor, the telemetry server, the backends (the Vault authenticator and lease timers,
# AWS batching, GCP), the sinks, saferead and the fault proxy. The rest runs without it:
# cmd/ and deploy/ test a binary built without -race, and internal/reliability measures
# timing and memory that -race distorts. Needs cgo (gcc). PATAS_NO_RACE=1 runs all without.
# TestIntegrationDatabaseCredentials runs without -race: it times real PostgreSQL
# credentials against a short lease, which -race on a loaded machine stretches past the
# lease (measured: failed once that way, no race reported).
race_pkgs=(./internal/engine/ ./internal/notify/ ./internal/supervisor/ ./internal/telemetry/
	./internal/saferead/ ./internal/testenv/faultproxy/ ./fetcher/... ./sinks/)
kube_pkg="$(go list ./deploy/kubernetes/)"
if [[ "${PATAS_NO_RACE:-}" == 1 ]]; then
	mapfile -t all < <(go list ./... | grep -vxF "$kube_pkg")
	go test -count=1 -timeout 40m "$@" "${all[@]}"
	if [[ "${PATAS_KUBE_TESTS:-}" == 1 ]]; then kube_prepare && go test -count=1 -timeout 30m "$@" ./deploy/kubernetes/; fi
	exit 0
fi
race_list="$(go list "${race_pkgs[@]}")"
# deploy/kubernetes (its own cluster, iptables chains and bridge) runs after deploy/ (a
# single-node Swarm whose init and leave rewrite Docker's networks), never beside it.
mapfile -t rest < <(go list ./... | grep -vxF "$race_list" | grep -vxF "$kube_pkg")
# 40m: deploy/ runs the Compose and Swarm traffic tests in one package (about 20 min
# on a loaded 2-core machine, images warm from scripts/prepare.d).
status=0
go test -count=1 -timeout 40m "$@" "${rest[@]}" || status=1
# shellcheck disable=SC2086 # one package per word
go test -race -count=1 -timeout 25m -skip '^TestIntegrationDatabaseCredentials$' "$@" $race_list || status=1
go test -count=1 -timeout 10m "$@" -run '^TestIntegrationDatabaseCredentials$' ./fetcher/vault/ || status=1
# Last, so that a cold Kubernetes build has had the whole run to finish in the background.
if [[ "${PATAS_KUBE_TESTS:-}" == 1 ]]; then
	kube_prepare
	go test -count=1 -timeout 30m "$@" ./deploy/kubernetes/ || status=1
fi
exit $status
