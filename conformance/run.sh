#!/usr/bin/env bash
# Runs the conformance suites (Elasticsearch's YAML REST tests through both transports, the
# official Python client scenarios, and the runner's own unit tests) with pytest.
#
#   conformance/run.sh [pytest args...]      e.g. -k 10_basic, --transport http, --run-skipped
#
# Creates conformance/.venv if missing and installs requirements.txt into it (again whenever the
# file changes). Builds the release binary unless KEYWARD_BIN names one. Exits non-zero when a
# test fails; skip.toml lists the tests that are skipped on purpose.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv"; then
    rm -rf "$venv"
    echo "run.sh: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
    exit 1
  fi
fi

stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$wanted" > "$stamp"
fi

if [ -z "${KEYWARD_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -p keyward)
  export KEYWARD_BIN="$repo/target/release/keyward"
fi

cd "$here"
exec "$venv/bin/python" -m pytest "$@"
