# Sourced by scripts/test.sh. Prepares the container tests in deploy/: a Go builder image
# made from this machine's toolchain (no registry is reachable), whether a build container
# reaches the Go module proxy, and the two images built from the real Dockerfile, so that
# the tests' own builds are layer-cache hits. Cached by the engine; quiet when warm.
# Exports PATAS_GO_IMAGE and PATAS_DOCKER_PROXY (reachable or unreachable). Without a
# reachable engine it does nothing: the tests then fail under CI=true and skip elsewhere.

if command -v docker >/dev/null 2>&1 && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	PATAS_GO_IMAGE="$(deploy/test/builder-image.sh)"
	export PATAS_GO_IMAGE
	proxy_cache="$PATAS_CACHE/docker-proxy-${PATAS_GO_IMAGE##*:}"
	if [[ ! -s "$proxy_cache" ]]; then
		PATAS_BUILDER_CHECK_PROXY=1 deploy/test/builder-image.sh | sed -n 's/^proxy=//p' >"$proxy_cache"
	fi
	PATAS_DOCKER_PROXY="$(cat "$proxy_cache")"
	export PATAS_DOCKER_PROXY

	docker_context="."
	docker_args=(--build-arg "GO_IMAGE=$PATAS_GO_IMAGE" --build-arg VERSION=test)
	if [[ "$PATAS_DOCKER_PROXY" != reachable || "${PATAS_DOCKER_VENDOR:-1}" != 0 ]]; then
		# The same temporary context the tests make (deploy/docker_test.go): never vendored in
		# the checkout. Vendoring reuses the host's modules; a download inside the build took
		# minutes here. PATAS_DOCKER_VENDOR=0 builds the checkout (when the proxy is reachable).
		docker_context="$(mktemp -d)"
		git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
			if [[ -f "$f" && ! -L "$f" ]]; then mkdir -p "$docker_context/$(dirname "$f")" && cp "$f" "$docker_context/$f"; fi
		done
		(cd "$docker_context" && go mod vendor)
		docker_args+=(--build-arg GOPROXY=off)
	fi
	docker_start=$SECONDS
	DOCKER_BUILDKIT=0 docker build -q -t patas-secrets:local "${docker_args[@]}" "$docker_context" >/dev/null
	DOCKER_BUILDKIT=0 docker build -q -t patas-standin:local --target standin "${docker_args[@]}" "$docker_context" >/dev/null
	if ((SECONDS - docker_start > 20)); then
		echo "prepare: built patas-secrets:local and patas-standin:local in $((SECONDS - docker_start))s (proxy $PATAS_DOCKER_PROXY)" >&2
	fi
	[[ "$docker_context" == . ]] || rm -rf "$docker_context"
	unset docker_context docker_args docker_start proxy_cache
else
	echo "prepare: no Docker Engine reachable; the container tests in deploy/ will fail under CI=true" >&2
fi
