#!/usr/bin/env bash
# Creates the Python virtualenv the interop test drives the switch with:
# greenswitch (a third-party ESL client, from PyPI).
#   crates/vswitch/tests/interop/setup.sh [VENV_DIR]
# The Rust test (tests/interop.rs) runs this itself when the venv is missing.
set -euo pipefail
venv="${1:-${VSWITCH_INTEROP_VENV:-target/vswitch-interop-venv}}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check 'greenswitch==0.0.19'
"$venv/bin/python" -c 'import greenswitch' 
echo "$venv/bin/python"
