#!/usr/bin/env bash
# Regenerates every generated file and fails if any differs from what is
# checked in, so stale generated code cannot land.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(git status --porcelain --untracked-files=all)
go generate ./... ./testdata/golden/... ./testdata/proto/...
(cd bench && go generate ./...)
after=$(git status --porcelain --untracked-files=all)
if [ "$before" != "$after" ]; then
  echo "checkgenerate: generated code is stale; run 'make generate' and commit:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  git --no-pager diff --stat >&2
  exit 1
fi
echo "checkgenerate: generated code is up to date"
