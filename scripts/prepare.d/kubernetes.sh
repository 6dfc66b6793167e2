# shellcheck shell=bash
# Sourced by scripts/test.sh. Prepares the single-node Kubernetes that internal/testenv/kube
# starts for the tests of deploy/kubernetes: builds kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet and kubectl (v1.34.2) and etcd (v3.6.16) from the Go module proxy
# once per machine (cold: ~10 min of compile on 2 cores, ~4 GB of module and build cache), and
# apt-installs containerd, runc and the CNI plugins when they are missing (as root).
# Cached by both versions + `go version` + the build recipe below; quiet when warm.
# Exports PATAS_TEST_KUBE_BIN (a directory with the binaries). A failure here does not stop
# the other tests: the Kubernetes tests then fail under CI=true and skip elsewhere.
# Run it directly (bash scripts/prepare.d/kubernetes.sh) to warm the cache.

PATAS_K8S_VERSION="${PATAS_K8S_VERSION:-1.34.2}"
PATAS_ETCD_VERSION="${PATAS_ETCD_VERSION:-3.6.16}"

# patas_kube_build DIR: the binaries into DIR. Its text is part of the cache key.
patas_kube_build() (
	set -euo pipefail
	local out=$1 k8s=$PATAS_K8S_VERSION etcd=$PATAS_ETCD_VERSION work mod minor x="" p c
	work="$(dirname "$out")/build"
	# Own module and build caches: several GB that a `go clean -cache` elsewhere should not evict.
	export GOMODCACHE="$work/../go/mod" GOCACHE="$work/../go/build" GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
	mkdir -p "$work/k8s" "$work/etcd" "$out"
	cd "$work/etcd"
	printf 'module etcdbuild\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$etcd" >go.mod
	printf '//go:build tools\n\npackage etcdbuild\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
	go mod tidy
	go build -trimpath -ldflags='-s -w' -o "$out/etcd" go.etcd.io/etcd/server/v3
	cd "$work/k8s"
	mod="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/v$k8s.mod"
	[[ -f "$mod" ]] || GOFLAGS= go mod download -json "k8s.io/kubernetes@v$k8s" >/dev/null
	minor="${k8s#*.}"
	minor="${minor%%.*}"
	# k8s.io/kubernetes replaces its staging modules with ./staging/..., absent from the module
	# zip: point each at the published k8s.io/X v0.MINOR.PATCH instead.
	{
		printf 'module kbuild\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$k8s"
		grep -E '=> \./staging' "$mod" | awk -v v="v0.${k8s#*.}" '{print "\t" $1 " => " $1 " " v}'
		echo ")"
	} >go.mod
	{
		printf '//go:build tools\n\npackage kbuild\n\nimport (\n'
		for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
			printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"
		done
		echo ")"
	} >tools.go
	go mod tidy
	# Stamp the version, else the binaries report v0.0.0-master.
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		x+=" -X $p.gitVersion=v$k8s -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
		go build -trimpath -ldflags="-s -w $x" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
	done
	"$out/kube-apiserver" --version
)

# containerd (with ctr), runc, the CNI bridge/host-local plugins, iptables and iproute2 from the distribution
# (Debian bookworm: containerd 1.6.20, which the 1.34 kubelet accepts). Only as root, only if missing.
patas_kube_apt() {
	local missing=()
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
	command -v iptables >/dev/null || missing+=(iptables)
	command -v ip >/dev/null || missing+=(iproute2)
	((${#missing[@]} == 0)) && return 0
	if [[ $(id -u) != 0 ]]; then
		echo "prepare: the Kubernetes tests need ${missing[*]} (not root: not installing)" >&2
		return 0
	fi
	echo "prepare: apt-get install ${missing[*]}" >&2
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >/dev/null ||
		{ echo "prepare: apt-get install ${missing[*]} failed" >&2; return 1; }
}

patas_kube_prepare() {
	local cache key bin lock start
	cache="${PATAS_CACHE:-$HOME/.cache/patas-secrets}/kubernetes"
	key="$( (echo "$PATAS_K8S_VERSION $PATAS_ETCD_VERSION"; go version; declare -f patas_kube_build) | sha256sum | cut -c1-16)"
	bin="$cache/bin-$PATAS_K8S_VERSION-$key"

	patas_kube_apt || return 1
	if [[ ! -x "$bin/kubectl" ]]; then
		mkdir -p "$cache"
		exec {lock}>"$cache/.build.lock"
		# Another run builds it: CI waits; a developer's run goes on (the Kubernetes tests skip).
		if ! flock -n "$lock"; then
			if [[ "${CI:-}" != true ]]; then
				echo "prepare: Kubernetes is being built by another run; its tests skip this time" >&2
				exec {lock}>&-
				return 0
			fi
			echo "prepare: waiting for another run's Kubernetes build..." >&2
			flock "$lock"
		fi
	fi
	if [[ ! -x "$bin/kubectl" ]]; then
		echo "prepare: building Kubernetes v$PATAS_K8S_VERSION and etcd v$PATAS_ETCD_VERSION for the tests (cold: ~10 minutes)..." >&2
		start=$SECONDS
		rm -rf "$bin.tmp"
		if ! patas_kube_build "$bin.tmp" >&2; then
			echo "prepare: building Kubernetes failed" >&2
			exec {lock}>&-
			return 1
		fi
		mv "$bin.tmp" "$bin"
		# Keep only the current build.
		find "$cache" -maxdepth 1 -name 'bin-*' ! -name "bin-$PATAS_K8S_VERSION-$key" -exec rm -rf {} +
		echo "prepare: Kubernetes built in $((SECONDS - start))s: $bin" >&2
	fi
	if [[ -n "${lock:-}" ]]; then
		exec {lock}>&-
	fi
	export PATAS_TEST_KUBE_BIN="$bin"
}

patas_kube_prepare || echo "prepare: Kubernetes is not ready; its tests fail under CI=true" >&2
