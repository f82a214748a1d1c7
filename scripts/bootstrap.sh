#!/usr/bin/env bash
# Install everything the CRM needs into this checkout: a Python 3.12+ virtual environment with
# the project and its test tools, and the front-end packages. Safe to re-run; it only redoes a
# step when its inputs changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'crm setup: %s\n' "$*"; }

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

pick_python() {
  local cand
  for cand in "${PYTHON:-}" "$(command -v pyenv >/dev/null && pyenv which python 2>/dev/null || true)" \
      "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3 \
      python3.12 python3.13 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 && python_ok "$cand"; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! python_ok .venv/bin/python; then
  py=$(pick_python) || { say "Python 3.12 or newer is needed (pyenv install 3.12, or set PYTHON=/path/to/python3.12)"; exit 1; }
  say "creating .venv with $py"
  rm -rf .venv
  "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi

stamp=.venv/.crm-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$stamp"
fi

if command -v npm >/dev/null 2>&1; then
  nstamp=node_modules/.crm-installed
  nwant=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
  if [ ! -f "$nstamp" ] || [ "$(cat "$nstamp")" != "$nwant" ]; then
    say "installing front-end packages"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$nwant" > "$nstamp"
  fi
else
  say "npm not found: charts and drag-and-drop will be missing (install Node.js to add them)"
fi
