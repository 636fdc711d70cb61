#!/usr/bin/env bash
# Builds the lab's pinned binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler and kubectl as one multi-call `kube`, etcd, kwok) from the Go
# modules under tools/, plus KWOK's stage configs, and the real nodes' kubelet
# and pause program (under a key of their own, linked in), into a cache
# outside the repository:
#
#   ${GEOFED_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/geofed-lab}/<key>/bin
#
# What is built, and how, is hack/lab-build.sh. <key> hashes the tools
# modules (go.mod, go.sum, Go files) and that recipe, so a version bump
# builds afresh and a second run reuses what is there. A binary already built
# is skipped. Progress goes to stderr; the last line on stdout is the bin
# directory:
#
#   export GEOFED_LAB_BIN="$(hack/lab-bin.sh | tail -n1)"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/tools"
# shellcheck source=hack/lab-build.sh
source "${root}/hack/lab-build.sh"
# shellcheck source=hack/lab-build-kubelet.sh
source "${root}/hack/lab-build-kubelet.sh"

log() { echo "lab-bin: $*" >&2; }
# took SECONDS_AT_START prints the time since then, as 3m07s or 41s.
took() {
	local s=$((SECONDS - $1))
	if ((s >= 60)); then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "${s}"
	fi
}

# The key covers every input of the build; file names are part of it so that
# adding or renaming a file changes it too. This script is not an input: it
# only decides whether to call the recipe and says what happens, and editing
# it must not cost every machine a rebuild.
#
# The real-node binaries, kubelet and pause (tools/kubelet,
# hack/lab-build-kubelet.sh), have a key of their own: they are built apart,
# so that adding or changing them never costs the control plane's binaries a
# rebuild, and are linked into the bin directory.
# hash_inputs FILE... prints a 16-hex-digit hash of the files and their names.
hash_inputs() {
	local f
	for f in "$@"; do
		printf '%s %s\n' "$(sha256sum <"${root}/${f}" | cut -d' ' -f1)" "${f}"
	done | sha256sum | cut -c1-16
}
# go_inputs DIR lists the Go inputs under DIR, sorted.
go_inputs() {
	(cd "${root}" && find "$1" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort)
}
mapfile -t key_files < <(go_inputs tools | grep -v '^tools/kubelet/')
key="$(hash_inputs "${key_files[@]}" hack/lab-build.sh)"
mapfile -t node_files < <(go_inputs tools/kubelet)
node_key="$(hash_inputs "${node_files[@]}" hack/lab-build.sh hack/lab-build-kubelet.sh)"

cache="${GEOFED_LAB_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/geofed-lab}"
bin="${cache}/${key}/bin"
mkdir -p "${bin}"

# Two runs at once (parallel CI jobs, two shells) must not build into each
# other's files: hold a lock on the key directory for the whole build.
exec 9>"${cache}/${key}/lock"
if ! flock -n 9; then
	log "another lab-bin.sh is building into ${bin}; waiting for it to finish"
	flock 9
fi

missing=()
for t in "${lab_targets[@]}"; do
	read -r name _ <<<"${t}"
	[[ -x "${bin}/${name}" ]] || missing+=("${name}")
done
if ((${#missing[@]} == ${#lab_targets[@]})); then
	log "first build of the lab binaries (Kubernetes ${lab_kube_version}, etcd, kwok, from source):"
	log "  ~10-15 minutes on 2 cores (~4 min module downloads, ~8 min kube, ~1.5 min kwok), once;"
	log "  cached in ${bin}, later runs take seconds"
elif ((${#missing[@]} > 0)); then
	log "building ${missing[*]} into ${bin} (the rest is cached)"
fi
total=${SECONDS}

# Downloading is a step of its own, timed apart from compiling: on a fresh
# machine it is a third of the wait, and it is what a slow proxy slows.
# `go list -deps` fetches exactly the modules the build will load.
if ((${#missing[@]} > 0)); then
	start=${SECONDS}
	log "downloading the Go modules of ${missing[*]}"
	for t in "${lab_targets[@]}"; do
		read -r name module pkg <<<"${t}"
		[[ -x "${bin}/${name}" ]] && continue
		n="$(cd "${tools}/${module}" && go list -mod=readonly -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}' "${pkg}" | awk 'NF && !seen[$0]++' | wc -l)"
		log "  ${name}: ${n} modules"
	done
	log "modules downloaded in $(took "${start}")"
fi

for t in "${lab_targets[@]}"; do
	read -r name module pkg <<<"${t}"
	if [[ -x "${bin}/${name}" ]]; then
		log "${name}: cached"
		continue
	fi
	log "${name}: building ${pkg} in tools/${module}"
	start=${SECONDS}
	lab_go_build "${tools}/${module}" "${bin}/.${name}.tmp" "${name}" "${pkg}"
	mv -f "${bin}/.${name}.tmp" "${bin}/${name}"
	log "${name}: built in $(took "${start}")"
done

for name in "${lab_kube_links[@]}"; do
	ln -sfn kube "${bin}/${name}"
done

stages="${bin}/kwok-stages"
if [[ ! -d "${stages}" ]]; then
	rm -rf "${stages}.tmp"
	lab_copy_kwok_stages "${tools}/kwok" "${stages}.tmp"
	mv "${stages}.tmp" "${stages}"
fi

# The real-node binaries, under their own key and lock, linked into the bin
# directory.
node_dir="${cache}/node-${node_key}"
mkdir -p "${node_dir}"
exec 8>"${node_dir}/lock"
if ! flock -n 8; then
	log "another lab-bin.sh is building the real-node binaries into ${node_dir}; waiting for it to finish"
	flock 8
fi
for t in "${lab_node_targets[@]}"; do
	read -r name pkg <<<"${t}"
	if [[ -x "${node_dir}/${name}" ]]; then
		log "${name}: cached"
	else
		hint=""
		[[ "${name}" == kubelet ]] && hint=" (~2-5 minutes on 2 cores, once)"
		log "${name}: building ${pkg} in tools/kubelet${hint}"
		start=${SECONDS}
		lab_build_node "${tools}/kubelet" "${node_dir}/.${name}.tmp" "${name}" "${pkg}"
		mv -f "${node_dir}/.${name}.tmp" "${node_dir}/${name}"
		log "${name}: built in $(took "${start}")"
	fi
	ln -sfn "${node_dir}/${name}" "${bin}/${name}"
done

if ((${#missing[@]} > 0)); then
	log "lab binaries ready in $(took "${total}")"
fi
echo "${bin}"
