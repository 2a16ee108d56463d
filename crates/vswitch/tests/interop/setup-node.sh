#!/usr/bin/env bash
# Installs modesl (a third-party ESL client, from npm) for the interop test.
#   crates/vswitch/tests/interop/setup-node.sh [PREFIX_DIR]
# The Rust test (tests/interop.rs) runs this itself when modesl is missing.
set -euo pipefail
prefix="${1:-${VSWITCH_INTEROP_NODE:-target/vswitch-interop-node}}"
mkdir -p "$prefix"
npm install --silent --no-audit --no-fund --prefix "$prefix" 'modesl@1.2.1' >/dev/null
node -e "require('$prefix/node_modules/modesl')"
echo "$prefix/node_modules"
