# shellcheck shell=bash
# Sourced by scripts/test.sh after docker.sh (which builds patas-secrets:local). Builds the
# PATAS-shaped test app and its PostgreSQL server, used by every deploy test in deploy/ and
# by the Kubernetes tests:
#
#   patas-app:local        deploy/app/app.py (FastAPI, pydantic BaseSettings, asyncpg), uid
#                          10001, entrypoint `patas-secrets exec --env-file /run/patas/secrets.env --`
#   patas-postgres:local   PostgreSQL 15 (deploy/app/postgres.sh), Debian's postgres user
#
# Both start FROM patas-app-base:<key>, a Debian bookworm rootfs made by
# `debootstrap --variant=minbase` and `docker import`ed (deploy/app/base-image.sh), keyed by
# its package list: built once per machine (cold: ~19 min here under load, mostly downloads
# and unpacking; warm: ~2 s). By hand, after patas-secrets:local exists:
#
#   base="$(deploy/app/base-image.sh)"
#   docker build -f deploy/app/Dockerfile --build-arg BASE_IMAGE="$base" --target app -t patas-app:local deploy/app
#   docker build -f deploy/app/Dockerfile --build-arg BASE_IMAGE="$base" --target postgres -t patas-postgres:local deploy/app
#
# Exports PATAS_APP_BASE_IMAGE. Needs root and debootstrap (installed with apt when missing).
# A failure here does not stop the other tests: deploy/'s tests build again and report it.

patas_prepare_app() {
	local base start log rc=0
	base="$(deploy/app/base-image.sh)" || return 1
	export PATAS_APP_BASE_IMAGE="$base"
	docker image inspect patas-secrets:local >/dev/null 2>&1 || return 1
	start=$SECONDS
	log="$(mktemp)"
	for target in app postgres; do
		DOCKER_BUILDKIT=0 docker build -q -f deploy/app/Dockerfile --build-arg BASE_IMAGE="$base" \
			--build-arg PATAS_SECRETS_IMAGE=patas-secrets:local --target "$target" -t "patas-$target:local" deploy/app \
			>/dev/null 2>>"$log" || { rc=1; break; }
	done
	((rc == 0)) || cat "$log" >&2
	rm -f "$log"
	if ((SECONDS - start > 20)); then
		echo "prepare: built patas-app:local and patas-postgres:local in $((SECONDS - start))s" >&2
	fi
	return $rc
}

if command -v docker >/dev/null 2>&1 && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	if ! patas_prepare_app; then
		echo "prepare: building the PATAS-shaped app images failed; the tests in deploy/ will build again and report why" >&2
	fi
fi
unset -f patas_prepare_app
