#!/usr/bin/env bash
# Builds the release archives of kubectl-geofed for krew and renders the
# krew plugin manifest with their sha256 sums:
#
#   hack/krew-release.sh v0.1.0 [OUT_DIR]
#
# OUT_DIR (default dist/) gets kubectl-geofed_<os>_<arch>.tar.gz for every
# platform and geofed.yaml, ready for a krew-index pull request. Archives
# are reproducible: fixed file order, owner and modification time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:?usage: krew-release.sh VERSION [OUT_DIR]}"
out="${2:-${root}/dist}"
base_url="${KREW_BASE_URL:-https://github.com/geofed-io/kubectl-geofed/releases/download/${version}}"
commit="$(git -C "${root}" rev-parse HEAD 2>/dev/null || echo unknown)"
# KREW_PLATFORMS narrows the build (the test builds linux/amd64 only).
read -r -a platforms <<<"${KREW_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"

mkdir -p "${out}"
entries=""
for p in "${platforms[@]}"; do
	os="${p%/*}" arch="${p#*/}"
	name="kubectl-geofed_${os}_${arch}"
	stage="$(mktemp -d)"
	(cd "${root}" && CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath \
		-ldflags "-s -w -X main.version=${version} -X main.commit=${commit}" \
		-o "${stage}/kubectl-geofed" ./cmd/kubectl-geofed)
	cp "${root}/README.md" "${stage}/README.md"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
		-C "${stage}" -czf "${out}/${name}.tar.gz" kubectl-geofed README.md
	rm -rf "${stage}"
	sum="$(sha256sum "${out}/${name}.tar.gz" | cut -d' ' -f1)"
	entries+="  - selector:
      matchLabels:
        os: ${os}
        arch: ${arch}
    uri: ${base_url}/${name}.tar.gz
    sha256: ${sum}
    bin: kubectl-geofed
    files:
    - from: kubectl-geofed
      to: .
    - from: README.md
      to: .
"
	echo "krew-release: ${name}.tar.gz ${sum}" >&2
done

awk -v version="${version}" -v platforms="${entries%$'\n'}" '
	/^#/ { next }
	{ gsub(/\{\{VERSION\}\}/, version) }
	/\{\{PLATFORMS\}\}/ { print platforms; next }
	{ print }
' "${root}/krew/geofed.yaml.tmpl" > "${out}/geofed.yaml"
echo "${out}/geofed.yaml"
