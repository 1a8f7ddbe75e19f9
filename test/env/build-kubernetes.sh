#!/usr/bin/env bash
# Builds the control plane of one Kubernetes release (kube-apiserver, kube-scheduler, kube-controller-manager) from
# Go modules (through the Go module proxy) into $DIND_K8S_CACHE/kubernetes-<version>/, unless it is already there.
# One `go build` of the three commands compiles the packages they share (most of them) once.
#
# k8s.io/kubernetes cannot be required as-is: its go.mod replaces every staging module
# (k8s.io/api, k8s.io/apiserver, ...) with a local ./staging path, and replace directives
# of a dependency are ignored. So we read that release's go.mod and pin each staging module
# to the matching published v0.<minor>.<patch>.
set -euo pipefail

version="${1:?usage: build-kubernetes.sh vX.Y.Z}"
cache="${DIND_K8S_CACHE:-$HOME/.cache/dind-k8s}"
out="$cache/kubernetes-$version"
commands=(kube-apiserver kube-scheduler kube-controller-manager)

complete() {
  for command in "${commands[@]}"; do [[ -x "$1/$command" ]] || return 1; done
}

if complete "$out"; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build-kubernetes: 'go' not found; install Go 1.26+ (https://go.dev/doc/install)" >&2; exit 1; }

staging_version="v0.${version#v1.}"
work="$(mktemp -d "${TMPDIR:-/tmp}/kubernetes-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

# The release's own go.mod (from the module proxy, via the module cache).
upstream_gomod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$upstream_gomod" ]] || { echo "build-kubernetes: could not download k8s.io/kubernetes@$version" >&2; exit 1; }
go_directive="$(awk '$1 == "go" { print $2; exit }' "$upstream_gomod")"
staging_modules="$(grep -oE '^[[:space:]]*k8s\.io/[a-z0-9.-]+ => \./staging/src/k8s\.io/[a-z0-9.-]+' "$upstream_gomod" | awk '{ print $1 }' | sort -u)"
[[ -n "$staging_modules" ]] || { echo "build-kubernetes: no staging replace directives found in $upstream_gomod" >&2; exit 1; }

{
  echo "module dind-k8s.local/kubernetes"
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

# The three commands as upstream's cmd/<name>/<name>.go start them: cli.Run over the app's cobra command.
main_go() {
  cat <<GO
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/$1/app"
)

func main() { os.Exit(cli.Run(app.$2())) }
GO
}
mkdir kube-apiserver kube-scheduler kube-controller-manager
main_go kube-apiserver NewAPIServerCommand > kube-apiserver/main.go
main_go kube-scheduler NewSchedulerCommand > kube-scheduler/main.go
main_go kube-controller-manager NewControllerManagerCommand > kube-controller-manager/main.go

go mod tidy >&2

minor="${version#v1.}"; minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

# Built into a staging directory and renamed whole, so an interrupted build never leaves a partial release behind.
staging="$out.partial"
rm -rf "$staging"
mkdir -p "$staging"
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$staging/" ./kube-apiserver ./kube-scheduler ./kube-controller-manager >&2
complete "$staging" || { echo "build-kubernetes: go build left no ${commands[*]} in $staging" >&2; exit 1; }
rm -rf "$out"
mv "$staging" "$out"
echo "$out"
