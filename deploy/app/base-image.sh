#!/usr/bin/env bash
# Builds the base image of the PATAS-shaped test app (deploy/app) and of its PostgreSQL
# server, without a registry: a Debian bookworm rootfs made by `debootstrap --variant=minbase`
# with Debian's own packages, turned into an image by `docker import`.
#
#   deploy/app/base-image.sh        # prints the image reference, e.g. patas-app-base:3f0c...
#
# The tag is a hash of the package list, the suite and this script, so a machine builds it
# once (cold: a few minutes, mostly downloads) and a second call only prints the tag.
# Needs root (debootstrap chroots) and debootstrap (installed with apt when missing).
# Progress goes to stderr. PATAS_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

suite=bookworm
mirror="${PATAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# python3-* for the app (pydantic 1.10's BaseSettings reads the environment), postgresql-15
# for the database container (same base: one import, one cache key); python3-dotenv lets
# the app re-read the env file on SIGHUP (exec --signal mode) the way PATAS reads .env.
packages=(python3 python3-fastapi python3-uvicorn python3-pydantic python3-dotenv python3-asyncpg postgresql-15 ca-certificates)
key="$( (echo "$suite" "${packages[@]}"; cat "${BASH_SOURCE[0]}") | sha256sum | cut -c1-12)"
tag="patas-app-base:$key"

if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$tag"
	exit 0
fi

cache="${PATAS_CACHE:-$HOME/.cache/patas-secrets}"
mkdir -p "$cache"
# One build per machine even when several test runs start at once.
exec {lock}>"$cache/.app-base.lock"
flock "$lock"
if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$tag"
	exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		echo "app-base: installing debootstrap from Debian" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
	else
		echo "app-base: debootstrap is needed (apt-get install debootstrap), as root" >&2
		exit 1
	fi
fi

start=$SECONDS
root="$(mktemp -d "$cache/app-base.XXXXXX")"
trap 'rm -rf "$root"' EXIT
echo "app-base: debootstrap $suite (${packages[*]}) into $root" >&2
include="$(IFS=,; echo "${packages[*]}")"
if ! debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
	tail -n 30 "$root.log" >&2
	[[ -f "$root/debootstrap/debootstrap.log" ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
	rm -f "$root.log"
	exit 1
fi
rm -f "$root.log"
# Smaller and reproducible-ish: no apt lists, caches or docs; the package set is the key.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*.log
# Debian's postgresql package creates a cluster in /var/lib/postgresql/15/main on install;
# the PostgreSQL container makes its own in a volume instead.
rm -rf "$root"/var/lib/postgresql/15/main "$root"/etc/postgresql/15/main
tar -C "$root" --numeric-owner -c . | docker import \
	--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/lib/postgresql/15/bin' \
	--change 'ENV LANG=C.UTF-8' \
	- "$tag" >/dev/null
echo "app-base: built $tag in $((SECONDS - start))s" >&2
echo "$tag"
