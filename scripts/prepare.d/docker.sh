# Sourced by scripts/test.sh. Prepares the container tests in deploy/: a Go builder image
# made from this machine's toolchain (no registry is reachable), whether a build container
# reaches the Go module proxy, and the two images built from the real Dockerfile, so that
# the tests' own builds are layer-cache hits. Cached by the engine; quiet when warm.
# Exports PATAS_GO_IMAGE and PATAS_DOCKER_PROXY (reachable or unreachable). A failure here
# does not stop the other tests: deploy/'s tests build again and report it. Without a
# reachable engine it does nothing: those tests then fail under CI=true and skip elsewhere.

patas_prepare_docker() {
	local proxy_cache context start log
	local -a args
	PATAS_GO_IMAGE="$(deploy/test/builder-image.sh)" || return 1
	export PATAS_GO_IMAGE
	proxy_cache="$PATAS_CACHE/docker-proxy-${PATAS_GO_IMAGE##*:}"
	if [[ ! -s "$proxy_cache" ]]; then
		PATAS_BUILDER_CHECK_PROXY=1 deploy/test/builder-image.sh | sed -n 's/^proxy=//p' >"$proxy_cache" || return 1
	fi
	PATAS_DOCKER_PROXY="$(cat "$proxy_cache")"
	export PATAS_DOCKER_PROXY

	context="."
	args=(--build-arg "GO_IMAGE=$PATAS_GO_IMAGE" --build-arg VERSION=test)
	if [[ "$PATAS_DOCKER_PROXY" != reachable || "${PATAS_DOCKER_VENDOR:-1}" != 0 ]]; then
		# The same temporary context the tests make (deploy/docker_test.go): never vendored in
		# the checkout. Vendoring reuses the host's modules; a download inside the build took
		# minutes here. PATAS_DOCKER_VENDOR=0 builds the checkout (when the proxy is reachable).
		context="$(mktemp -d)"
		git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
			if [[ -f "$f" && ! -L "$f" ]]; then mkdir -p "$context/$(dirname "$f")" && cp "$f" "$context/$f"; fi
		done
		(cd "$context" && go mod vendor) || { rm -rf "$context"; return 1; }
		args+=(--build-arg GOPROXY=off)
	fi
	start=$SECONDS
	log="$(mktemp)"
	# The classic builder (DOCKER_BUILDKIT=0): BuildKit would want a frontend image or buildx.
	DOCKER_BUILDKIT=0 docker build -q -t patas-secrets:local "${args[@]}" "$context" >/dev/null 2>"$log" &&
		DOCKER_BUILDKIT=0 docker build -q -t patas-standin:local --target standin "${args[@]}" "$context" >/dev/null 2>>"$log"
	local rc=$?
	((rc == 0)) || cat "$log" >&2
	rm -f "$log"
	[[ "$context" == . ]] || rm -rf "$context"
	if ((SECONDS - start > 20)); then
		echo "prepare: built patas-secrets:local and patas-standin:local in $((SECONDS - start))s (proxy $PATAS_DOCKER_PROXY)" >&2
	fi
	return $rc
}

if command -v docker >/dev/null 2>&1 && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	if ! patas_prepare_docker; then
		echo "prepare: building the container images failed; the tests in deploy/ will build again and report why" >&2
	fi
else
	echo "prepare: no Docker Engine reachable; the container tests in deploy/ will fail under CI=true" >&2
fi
unset -f patas_prepare_docker
