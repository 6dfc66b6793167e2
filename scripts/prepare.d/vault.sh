# shellcheck shell=bash
# Sourced by scripts/test.sh. Builds the test-only Vault v1.14.1 server (tools/vault, its own
# Go module, never the product's go.mod) into the cache once, and exports
# PATAS_TEST_VAULT_BIN for the integration tests of fetcher/vault. Quiet when warm.
#
# The binary is keyed by a hash of tools/vault's go.mod, go.sum, main.go and the sdk patch
# version, so a change to any of them rebuilds it. Concurrent runs (several test.sh at once)
# wait on a lock for one build. Cold: ~550 MB of modules and minutes of compile.

patas_vault_prepare() {
	local root tools cache sdk_src key bin lock
	local sdk_patch=1 # bump when the sdk patch below changes
	root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
	tools="$root/tools/vault"
	cache="${PATAS_CACHE:-$HOME/.cache/patas-secrets}/vault"
	key="$( (cat "$tools/go.mod" "$tools/go.sum" "$tools/main.go"; echo "sdk-patch-$sdk_patch") | sha256sum | cut -c1-16)"
	bin="$cache/vault-1.14.1-$key"

	if [[ ! -x "$bin" ]]; then
		mkdir -p "$cache"
		exec {lock}>"$cache/.build.lock"
		flock "$lock"
	fi
	if [[ ! -x "$bin" ]]; then
		echo "prepare: building Vault v1.14.1 for the integration tests (cold: several minutes)..." >&2
		# The patched sdk copy that tools/vault/go.mod replaces github.com/hashicorp/vault/sdk with.
		# sdk v0.9.2 panics at start-up on Vault 1.14's paths that define a CreateOperation
		# without an ExistenceCheck (a check added after the 1.14 branch); disable that one check.
		if [[ ! -f "$tools/sdk/.patas-patched" ]]; then
			sdk_src="$(cd "$cache" && GOWORK=off GOFLAGS= go mod download -json github.com/hashicorp/vault/sdk@v0.9.2 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
			[[ -n "$sdk_src" && -d "$sdk_src" ]] || { echo "prepare: cannot download github.com/hashicorp/vault/sdk@v0.9.2" >&2; return 1; }
			rm -rf "$tools/sdk"
			cp -R "$sdk_src" "$tools/sdk"
			chmod -R u+w "$tools/sdk"
			sed -i '/Detect the coding error of attempting to define a CreateOperation/{n;s/if p.ExistenceCheck == nil {/if false \&\& p.ExistenceCheck == nil { \/\/ patas-secrets: disabled for Vault 1.14/}' \
				"$tools/sdk/framework/backend.go"
			grep -q 'if false && p.ExistenceCheck == nil' "$tools/sdk/framework/backend.go" ||
				{ echo "prepare: patching sdk/framework/backend.go failed" >&2; return 1; }
			touch "$tools/sdk/.patas-patched"
		fi
		local start=$SECONDS
		(cd "$tools" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$bin.tmp.$$" .) ||
			{ rm -f "$bin.tmp.$$"; return 1; }
		mv "$bin.tmp.$$" "$bin"
		# Keep only the current build.
		find "$cache" -maxdepth 1 -name 'vault-1.14.1-*' ! -name "vault-1.14.1-$key*" -delete
		echo "prepare: Vault built in $((SECONDS - start))s: $bin" >&2
	fi
	if [[ -n "${lock:-}" ]]; then
		exec {lock}>&-
	fi
	export PATAS_TEST_VAULT_BIN="$bin"
}

patas_vault_prepare
