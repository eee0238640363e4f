#!/usr/bin/env bash
# Runs every go:generate directive of the repository: the packages of the
# root module, the compiled golden packages of the generators under
# testdata/ (which ./... skips), and the bench module, a module of its own.
# `make generate` runs it, and tools/checkgenerate.sh runs it to check that
# nothing it produces differs from what is checked in: this is the one list
# of what is generated.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
$GO generate ./... ./testdata/golden/... ./testdata/proto/... ./testdata/internal/...
(cd bench && $GO generate ./...)
