#!/usr/bin/env bash
# Builds krew, the kubectl plugin manager, and krew-index's manifest
# validator at a pinned release from the Go module proxy, once, into a cache
# outside the repository:
#
#   ${GEOFED_KREW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/geofed-krew}/<version>/{krew,validate-krew-manifest}
#
# The krew test and `make krew` use them to check the release the way krew
# and the krew-index CI do. The last line on stdout is the directory:
#
#   KREW_BIN="$(hack/krew-bin.sh | tail -n 1)"
set -euo pipefail

krew_version="v0.4.4"
# The release's commit, stamped as krew's own release build does
# (hack/make-binaries.sh in krew), so `krew version` reports what it is.
krew_commit="343e657"

log() { echo "krew-bin: $*" >&2; }

cache="${GEOFED_KREW_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/geofed-krew}"
dir="${cache}/${krew_version}"
mkdir -p "${cache}"

# Parallel test binaries may ask at once: one builds, the others wait.
exec 9>"${cache}/${krew_version}.lock"
flock 9

if [[ ! -x "${dir}/krew" || ! -x "${dir}/validate-krew-manifest" ]]; then
	log "building sigs.k8s.io/krew ${krew_version} (krew, validate-krew-manifest) into ${dir}"
	start=${SECONDS}
	stage="$(mktemp -d "${cache}/.${krew_version}.XXXXXX")"
	trap 'rm -rf "${stage}"' EXIT
	version_pkg="sigs.k8s.io/krew/internal/version"
	# `go install pkg@version` builds with krew's own go.mod, apart from any
	# module around the caller; GOWORK=off keeps a go.work out of it too.
	(
		cd "${stage}"
		GOWORK=off GOBIN="${stage}/bin" CGO_ENABLED=0 go install -trimpath -tags netgo \
			-ldflags "-w -X ${version_pkg}.gitCommit=${krew_commit} -X ${version_pkg}.gitTag=${krew_version}" \
			"sigs.k8s.io/krew/cmd/krew@${krew_version}" \
			"sigs.k8s.io/krew/cmd/validate-krew-manifest@${krew_version}"
	)
	rm -rf "${dir}"
	mv "${stage}/bin" "${dir}"
	log "built in $((SECONDS - start))s"
fi

echo "${dir}"
