#!/usr/bin/env bash
# Prints the path of a Chromium (or Chrome) binary for the tests that open
# `plan -o html` and `status -o html` pages in a headless browser, installing
# Debian's chromium package when none is found. The last line on stdout is
# the binary:
#
#   export GEOFED_CHROMIUM="$(bash hack/chromium.sh | tail -n1)"
#
# Order: $GEOFED_CHROMIUM when it is executable, then chromium,
# chromium-browser, google-chrome and google-chrome-stable on PATH, then
# `apt-get install chromium` (as root, or through sudo). Anything else
# (another distribution, no root) fails saying what to install.
set -euo pipefail

log() { echo "chromium: $*" >&2; }
fail() {
	log "$*"
	log "install Chromium (Debian/Ubuntu: apt-get install chromium) or set GEOFED_CHROMIUM to a Chromium or Chrome binary"
	exit 1
}

if [[ -n "${GEOFED_CHROMIUM:-}" ]]; then
	if [[ -x "${GEOFED_CHROMIUM}" ]]; then
		echo "${GEOFED_CHROMIUM}"
		exit 0
	fi
	fail "GEOFED_CHROMIUM=${GEOFED_CHROMIUM} is not an executable file"
fi

find_binary() {
	local name
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "${name}" >/dev/null 2>&1; then
			command -v "${name}"
			return 0
		fi
	done
	return 1
}

if path="$(find_binary)"; then
	echo "${path}"
	exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail "no Chromium on PATH and no apt-get to install it with"

as_root=()
if [[ "$(id -u)" != 0 ]]; then
	command -v sudo >/dev/null 2>&1 || fail "no Chromium on PATH; installing it needs root (no sudo here)"
	as_root=(sudo -n)
fi

# A machine whose package lists were never fetched has no candidate yet;
# apt-get update below fetches them either way, this only says so.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	log "no chromium candidate in the package lists yet; updating them"
fi
log "installing Debian's chromium package (a few minutes, once)"
# Another install running at the same time (two test runs) holds dpkg's
# lock: wait for it rather than fail.
"${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y chromium >&2

path="$(find_binary)" || fail "apt-get installed chromium, but no chromium binary is on PATH"
log "installed ${path}"
echo "${path}"
