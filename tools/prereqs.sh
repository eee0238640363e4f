#!/usr/bin/env bash
# Checks that the programs a make target needs are installed, before it
# starts anything, and says what is missing and which Debian package
# brings it (.ci/run installs them all on a Debian machine).
#
#   tools/prereqs.sh demo|test
set -uo pipefail
target=${1:-test}

missing=()
need() { # command, Debian package, what it is for
  command -v "$1" >/dev/null 2>&1 || missing+=("$1 (Debian package $2): $3")
}
need go golang-go "builds mqrpc"
need java openjdk-17-jre-headless "runs the RocketMQ name server and brokers"
need mvn maven "copies the RocketMQ jars from Maven Central"
if [ "$target" = test ]; then
  need protoc protobuf-compiler "the protoc-gen-mqrpc end-to-end and golden tests"
  need redis-server redis-server "the shared dedup store's tests"
  need ss iproute2 "the broker fault tests wait on ports"
fi
if command -v java >/dev/null 2>&1; then
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -n "$v" ] && [ "$v" -lt 17 ]; then
    missing+=("java 17 or later (Debian package openjdk-17-jre-headless): found java $v")
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "make $target needs programs that are not installed:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  echo "Install them (as root: apt-get install <packages>), or run .ci/run, which installs them." >&2
  exit 1
fi
