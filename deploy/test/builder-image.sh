#!/usr/bin/env bash
# Makes a local Go builder image from this machine's own toolchain, for machines that reach
# no image registry (the Dockerfile's default builder is the official golang image):
#
#   docker build --build-arg GO_IMAGE="$(deploy/test/builder-image.sh)" .
#
# The image holds $(go env GOROOT) at /usr/local/go (as the official image does), a static
# busybox for the Dockerfile's few shell steps (Debian's busybox-static; installed with apt
# when missing and this runs as root), the host's CA bundle, /etc/passwd and /tmp.
# It is tagged by Go version and this script's hash, so a second call only prints the tag.
# Prints the image reference on stdout; progress goes to stderr.
#
# PATAS_BUILDER_CHECK_PROXY=1 also reports whether a build container reaches the Go module
# proxy (stdout then has a second line: "proxy=reachable" or "proxy=unreachable").
set -euo pipefail

goroot="$(go env GOROOT)"
gover="$(go env GOVERSION)"
goarch="$(go env GOARCH)"
self_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
tag="patas-secrets-builder:${gover}-${self_hash}"

busybox="$(command -v busybox || true)"
if [[ -n "$busybox" ]] && ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	busybox=""
fi
if [[ -z "$busybox" && -x /bin/busybox ]] && file -L /bin/busybox | grep -q 'statically linked'; then
	busybox=/bin/busybox
fi

if ! docker image inspect "$tag" >/dev/null 2>&1; then
	if [[ -z "$busybox" ]]; then
		if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
			echo "builder-image: installing busybox-static from Debian" >&2
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1 ||
				{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
			busybox=/bin/busybox
		else
			echo "builder-image: a static busybox is needed (apt-get install busybox-static)" >&2
			exit 1
		fi
	fi
	ca=/etc/ssl/certs/ca-certificates.crt
	[[ -r "$ca" ]] || { echo "builder-image: no CA bundle at $ca (apt-get install ca-certificates)" >&2; exit 1; }

	echo "builder-image: importing $gover from $goroot as $tag" >&2
	stage="$(mktemp -d)"
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage/bin" "$stage/etc/ssl/certs" "$stage/tmp" "$stage/root"
	chmod 1777 "$stage/tmp"
	cp "$busybox" "$stage/bin/busybox"
	for applet in $("$busybox" --list); do
		[[ "$applet" == busybox ]] || ln -s busybox "$stage/bin/$applet"
	done
	cp "$ca" "$stage/etc/ssl/certs/ca-certificates.crt"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
	# The toolchain without its tests and docs, at /usr/local/go whatever GOROOT is here.
	gparent="$(dirname "$goroot")" gbase="$(basename "$goroot")"
	tar --owner=0 --group=0 --numeric-owner -cf - -C "$stage" bin etc tmp root \
		--exclude="$gbase/test" --exclude="$gbase/doc" --exclude="$gbase/api" --exclude="$gbase/pkg/obj" \
		--transform "s,^$gbase\(/\|\$\),usr/local/go\1," -C "$gparent" "$gbase" |
		docker import \
			--change 'ENV PATH=/usr/local/go/bin:/go/bin:/bin' \
			--change 'ENV GOPATH=/go' \
			--change 'ENV GOTOOLCHAIN=local' \
			--change 'ENV HOME=/root' \
			--change 'WORKDIR /go' \
			--change "LABEL org.opencontainers.image.title=patas-secrets-builder go.version=$gover go.arch=$goarch" \
			- "$tag" >/dev/null
fi
echo "$tag"

if [[ "${PATAS_BUILDER_CHECK_PROXY:-}" == 1 ]]; then
	if docker run --rm "$tag" sh -c 'cd /tmp && timeout 30 go mod download -json golang.org/x/text@v0.3.0' >/dev/null 2>&1; then
		echo "proxy=reachable"
	else
		echo "proxy=unreachable"
	fi
fi
