#!/usr/bin/env bash
# Install, idempotently, every Debian package that stocketl's build, tests,
# benchmarks and run need, and the npm packages the tests use into
# tests/node_modules.  Run as root (or with sudo available).
set -eu
cd "$(dirname "$0")/../.."

packages=(
	build-essential clang clang-format clang-tidy cppcheck llvm
	libclang-rt-14-dev
	libcurl4-openssl-dev libcjson-dev libpq-dev libzstd-dev libsnappy-dev zlib1g-dev liblz4-dev libbrotli-dev
	bats bats-support bats-assert shellcheck
	s3fs fuse3 postgresql tzdata ca-certificates
	jq curl procps psmisc iproute2 time hyperfine git man-db bsdextrautils strace
	libxml2-utils chromium fonts-dejavu-core
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

# Node.js (with npm) may come from elsewhere than Debian; only install
# Debian's when there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	"${sudo_cmd[@]}" apt-get update
	DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# npm packages for the tests (DuckDB as an independent reader, an S3 server)
# and for make lint (dclint and dockerfile-utils check docker/), pinned by
# tests/package-lock.json.
npm_missing=0
for m in @duckdb/node-api s3rver dclint dockerfile-utils; do
	[ -d "tests/node_modules/$m" ] || npm_missing=1
done
if [ "$npm_missing" = 1 ]; then
	(cd tests && npm ci --no-audit --no-fund)
fi
