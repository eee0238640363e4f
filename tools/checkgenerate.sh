#!/usr/bin/env bash
# Regenerates every generated file and fails if any differs from what is
# checked in, so stale generated code cannot land.
set -euo pipefail
cd "$(dirname "$0")/.."
# The state of the tree: which files differ from HEAD, and their contents,
# so that a generator that rewrites a file already modified is seen too.
snapshot() {
  git status --porcelain --untracked-files=all
  git diff --no-ext-diff | sha256sum
  git ls-files --others --exclude-standard -z | xargs -0 -r sha256sum
}
before=$(snapshot)
tools/generate.sh
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "checkgenerate: generated code is stale; run 'make generate' and commit:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  git --no-pager diff --stat >&2
  exit 1
fi
echo "checkgenerate: generated code is up to date"
