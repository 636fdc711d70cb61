#!/usr/bin/env bash
# Builds the release archives of kubectl-geofed for krew and renders the
# krew plugin manifest with their sha256 sums:
#
#   hack/krew-release.sh v0.1.0 [OUT_DIR]
#
# OUT_DIR (default dist/) gets kubectl-geofed_<os>_<arch>.tar.gz for linux,
# darwin and windows on amd64 and arm64, and geofed.yaml, ready for a
# krew-index pull request. Each archive holds the binary (kubectl-geofed.exe
# on windows: krew links bin as is, and Windows runs only .exe), LICENSE and
# README.md. krew unpacks .tar.gz on every platform, so windows gets one too.
# Archives are reproducible: fixed file order, owner, modes and modification
# time, and no name or time in the gzip header.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:?usage: krew-release.sh VERSION [OUT_DIR]}"
out="${2:-${root}/dist}"
base_url="${KREW_BASE_URL:-https://github.com/geofed-io/kubectl-geofed/releases/download/${version}}"
commit="$(git -C "${root}" rev-parse HEAD 2>/dev/null || echo unknown)"
# KREW_PLATFORMS narrows the build (the test builds two).
read -r -a platforms <<<"${KREW_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}"

mkdir -p "${out}"
stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT
entries=""
for p in "${platforms[@]}"; do
	os="${p%/*}" arch="${p#*/}"
	name="kubectl-geofed_${os}_${arch}"
	bin="kubectl-geofed"
	[[ "${os}" == windows ]] && bin="kubectl-geofed.exe"
	rm -rf "${stage:?}"/*
	(cd "${root}" && CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath \
		-ldflags "-s -w -X main.version=${version} -X main.commit=${commit}" \
		-o "${stage}/${bin}" ./cmd/kubectl-geofed)
	cp "${root}/LICENSE" "${root}/README.md" "${stage}/"
	chmod 0755 "${stage}/${bin}"
	chmod 0644 "${stage}/LICENSE" "${stage}/README.md"
	tar --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' --format=gnu \
		-C "${stage}" -cf - "${bin}" LICENSE README.md | gzip -n -9 >"${out}/${name}.tar.gz"
	sum="$(sha256sum "${out}/${name}.tar.gz" | cut -d' ' -f1)"
	entries+="  - selector:
      matchLabels:
        os: ${os}
        arch: ${arch}
    uri: ${base_url}/${name}.tar.gz
    sha256: ${sum}
    bin: ${bin}
    files:
    - from: ${bin}
      to: .
    - from: LICENSE
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
