#!/usr/bin/env bash
# Builds the lab's pinned binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler and kubectl as one multi-call `kube`, etcd, kwok) from the Go
# modules under tools/, plus KWOK's stage configs, into a cache outside the
# repository:
#
#   ${GEOFED_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/geofed-lab}/<key>/bin
#
# <key> hashes the tools modules (go.mod, go.sum, Go files) and this script, so
# a version bump builds afresh and a second run reuses what is there. A binary
# already built is skipped. The last line on stdout is the bin directory:
#
#   export GEOFED_LAB_BIN="$(hack/lab-bin.sh | tail -n1)"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/tools"
self="${root}/hack/lab-bin.sh"

kube_version="v1.37.2"

log() { echo "lab-bin: $*" >&2; }

# The key covers every input of the build; file names are part of it so that
# adding or renaming a file changes it too.
key="$(
	cd "${root}"
	{
		find tools -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort
		echo hack/lab-bin.sh
	} | while read -r f; do
		printf '%s %s\n' "$(sha256sum <"${f}" | cut -d' ' -f1)" "${f}"
	done | sha256sum | cut -c1-16
)"

cache="${GEOFED_LAB_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/geofed-lab}"
bin="${cache}/${key}/bin"
mkdir -p "${bin}"

# Two runs at once (parallel CI jobs, two shells) must not build into each
# other's files: hold a lock on the key directory for the whole build.
exec 9>"${cache}/${key}/lock"
flock 9

# build MODULE_DIR OUTPUT PACKAGE [LDFLAGS...] builds PACKAGE within the module
# to OUTPUT unless it is there already. -mod=readonly: go.sum is committed
# complete and a build must never change it.
build() {
	local dir="$1" out="$2" pkg="$3"
	shift 3
	if [[ -x "${bin}/${out}" ]]; then
		log "${out}: cached"
		return
	fi
	log "${out}: building ${pkg} in tools/${dir#"${tools}/"}"
	local start=${SECONDS}
	(
		cd "${dir}"
		go build -mod=readonly -trimpath -ldflags="-s -w $*" -o "${bin}/.${out}.tmp" "${pkg}"
	)
	mv -f "${bin}/.${out}.tmp" "${bin}/${out}"
	log "${out}: built in $((SECONDS - start))s"
}

# Version stamps: without them discovery reports v0.0.0-master and clients
# that check the server version (kubectl, geofed's own) see a nonsense version.
# buildDate is the upstream release time, so the build stays reproducible.
kube_ldflags=()
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=(
		"-X ${pkg}.gitVersion=${kube_version}"
		"-X ${pkg}.gitMajor=1"
		"-X ${pkg}.gitMinor=37"
		"-X ${pkg}.gitTreeState=clean"
		"-X ${pkg}.gitCommit="
		"-X ${pkg}.buildDate=2026-10-27T12:01:04Z"
	)
done

build "${tools}/kube" kube . "${kube_ldflags[@]}"
build "${tools}/etcd" etcd .
build "${tools}/kwok" kwok sigs.k8s.io/kwok/cmd/kwok

# The multi-call binary picks its component by argv[0].
for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
	ln -sfn kube "${bin}/${name}"
done

# KWOK moves nodes and pods only through stages; the kwok binary has no
# defaults of its own (kwokctl passes them), so ship the module's stage
# configs beside it: the set kwokctl uses by default. kwok renews node leases
# itself, so the status heartbeat can be the slow "with-lease" one, which
# keeps a lab's apiservers and etcd quiet.
stages="${bin}/kwok-stages"
if [[ ! -d "${stages}" ]]; then
	kwok_dir="$(cd "${tools}/kwok" && go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
	mkdir -p "${stages}.tmp"
	for stage in node/fast node/heartbeat-with-lease pod/fast; do
		for f in "${kwok_dir}/kustomize/stage/${stage}"/*.yaml; do
			[[ "$(basename "${f}")" == kustomization.yaml ]] && continue
			cp "${f}" "${stages}.tmp/$(basename "${f}")"
		done
	done
	chmod -R u+w "${stages}.tmp"
	mv "${stages}.tmp" "${stages}"
fi

echo "${bin}"
