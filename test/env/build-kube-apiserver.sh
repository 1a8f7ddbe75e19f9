#!/usr/bin/env bash
# Builds kube-apiserver of one Kubernetes release from Go modules (through the Go module proxy)
# into $DIND_K8S_CACHE/kube-apiserver-<version>/kube-apiserver, unless it is already there.
#
# k8s.io/kubernetes cannot be required as-is: its go.mod replaces every staging module
# (k8s.io/api, k8s.io/apiserver, ...) with a local ./staging path, and replace directives
# of a dependency are ignored. So we read that release's go.mod and pin each staging module
# to the matching published v0.<minor>.<patch>.
set -euo pipefail

version="${1:?usage: build-kube-apiserver.sh vX.Y.Z}"
cache="${DIND_K8S_CACHE:-$HOME/.cache/dind-k8s}"
out="$cache/kube-apiserver-$version"
bin="$out/kube-apiserver"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build-kube-apiserver: 'go' not found; install Go 1.25+ (https://go.dev/doc/install)" >&2; exit 1; }

staging_version="v0.${version#v1.}"
work="$(mktemp -d "${TMPDIR:-/tmp}/kube-apiserver-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

# The release's own go.mod (from the module proxy, via the module cache).
upstream_gomod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$upstream_gomod" ]] || { echo "build-kube-apiserver: could not download k8s.io/kubernetes@$version" >&2; exit 1; }
go_directive="$(awk '$1 == "go" { print $2; exit }' "$upstream_gomod")"
staging_modules="$(grep -oE '^[[:space:]]*k8s\.io/[a-z0-9.-]+ => \./staging/src/k8s\.io/[a-z0-9.-]+' "$upstream_gomod" | awk '{ print $1 }' | sort -u)"
[[ -n "$staging_modules" ]] || { echo "build-kube-apiserver: no staging replace directives found in $upstream_gomod" >&2; exit 1; }

{
  echo "module dind-k8s.local/kube-apiserver"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  for module in $staging_modules; do
    echo "	$module => $module $staging_version"
  done
  echo ")"
} > go.mod

cat > main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO

go mod tidy >&2

minor="${version#v1.}"; minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

mkdir -p "$out"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin.partial" . >&2
mv "$bin.partial" "$bin"
echo "$bin"
