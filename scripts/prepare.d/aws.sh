# shellcheck shell=bash
# Sourced by scripts/test.sh. Finds moto_server (the AWS emulator that fetcher/aws's
# integration tests start on a loopback port) and exports PATAS_TEST_MOTO_BIN. It installs
# nothing: the pip and apt registries may not be reachable from CI, so when moto is missing
# it says how to install it and lets the tests report it (they fail under CI=true).
# Quiet when moto is there.

patas_aws_prepare() {
	local bin real py version stamp
	bin="${PATAS_TEST_MOTO_BIN:-$(command -v moto_server || true)}"
	if [[ -z "$bin" || ! -x "$bin" ]]; then
		cat >&2 <<-'MSG'
		prepare: moto_server not found; the AWS integration tests will skip (or fail under CI=true).
		  Install moto 5 with its server:  pip install 'moto[server]>=5'
		  (or: python3 -m pip install --user 'moto[server]>=5'; then put its bin directory on PATH,
		  or set PATAS_TEST_MOTO_BIN=/path/to/moto_server)
		MSG
		return 0
	fi
	# A pyenv shim re-resolves the interpreter on every start; use the real script.
	if [[ "$bin" == */shims/* ]] && command -v pyenv >/dev/null; then
		real="$(pyenv which moto_server 2>/dev/null || true)"
		[[ -x "$real" ]] && bin="$real"
	fi
	# BatchGetSecretValue needs moto 5. Reading the version costs a Python start, so it is
	# remembered per binary (path and modification time).
	stamp="${PATAS_CACHE:-$HOME/.cache/patas-secrets}/moto-version-$(stat -c '%n%Y' "$bin" | sha256sum | cut -c1-16)"
	if [[ ! -f "$stamp" ]]; then
		py="$(head -1 "$bin" | sed -n 's/^#! *//p')"
		version="$(${py:-python3} -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
		mkdir -p "$(dirname "$stamp")"
		echo "$version" >"$stamp"
	fi
	version="$(cat "$stamp")"
	case "$version" in
	[5-9].* | [1-9][0-9].*) ;;
	*) echo "prepare: $bin is moto ${version:-of unknown version}; the AWS tests need moto 5 (pip install 'moto[server]>=5')" >&2 ;;
	esac
	export PATAS_TEST_MOTO_BIN="$bin"
}

patas_aws_prepare
