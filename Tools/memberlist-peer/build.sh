#!/usr/bin/env bash
# Builds Tools/memberlist-peer offline (GOPATH mode, Debian's Go packages; no module proxy).
# Usage: Tools/memberlist-peer/build.sh [output-path]   (default: <repo>/.build-go/memberlist-peer)
# Prints the absolute path of the binary on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/.build-go/memberlist-peer}"
gocode=/usr/share/gocode

# Debian packages that provide memberlist 0.2.2 and everything it imports.
# (golang-github-hashicorp-memberlist-dev pulls in all the others as dependencies.)
pkgs="golang-go golang-github-hashicorp-memberlist-dev golang-github-hashicorp-go-msgpack-dev \
golang-github-armon-go-metrics-dev golang-github-hashicorp-go-immutable-radix-dev golang-github-hashicorp-golang-lru-dev \
golang-github-google-btree-dev golang-github-miekg-dns-dev golang-golang-x-net-dev golang-golang-x-sys-dev \
golang-github-hashicorp-go-multierror-dev golang-github-hashicorp-errwrap-dev golang-github-hashicorp-go-sockaddr-dev"

die() {
	echo "memberlist-peer/build.sh: $*" >&2
	echo "install with: apt-get install -y $pkgs" >&2
	exit 1
}

command -v go >/dev/null 2>&1 || die "'go' not found (need Go >= 1.19)"

# Import paths memberlist 0.2.2 needs (sean-/seed is vendored inside memberlist itself).
for p in \
	github.com/hashicorp/memberlist \
	github.com/hashicorp/go-msgpack/codec \
	github.com/armon/go-metrics \
	github.com/hashicorp/go-immutable-radix \
	github.com/hashicorp/golang-lru/simplelru \
	github.com/google/btree \
	github.com/miekg/dns \
	golang.org/x/net/ipv4 \
	golang.org/x/sys/unix \
	github.com/hashicorp/go-multierror \
	github.com/hashicorp/errwrap \
	github.com/hashicorp/go-sockaddr; do
	[ -d "$gocode/src/$p" ] || die "Go package $p missing under $gocode/src"
done
if ! grep -qs 'DefaultLANConfig' "$gocode/src/github.com/hashicorp/memberlist/config.go"; then
	die "memberlist source under $gocode/src/github.com/hashicorp/memberlist looks incomplete"
fi

gopath="${TMPDIR:-/tmp}/memberlist-peer-gopath"
mkdir -p "$gopath" "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

(
	cd "$here"
	GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$gocode:$gopath" \
		GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/go-build}" \
		go build -o "$out" .
) >&2 || die "go build failed (see above)"

echo "$out"
