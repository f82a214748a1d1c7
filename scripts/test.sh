#!/usr/bin/env bash
# The whole test suite: lint, format, migrations check, then pytest (unit, API, UI and the
# Playwright end-to-end tests in Debian's chromium). Installs what it needs first.
# Runs on SQLite unless DATABASE_URL points elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

# The end-to-end tests need Debian's chromium, its Chinese locale (date inputs in 年/月/日) and
# CJK fonts; install whichever is missing when we may.
e2e_packages="chromium chromium-l10n fonts-noto-cjk"
if ! dpkg -s $e2e_packages >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "crm test: installing $e2e_packages for the end-to-end tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $e2e_packages >/dev/null
  elif [ ! -x /usr/bin/chromium ]; then
    echo "crm test: /usr/bin/chromium missing and cannot install it; end-to-end tests will skip"
  fi
fi

echo "crm test: ruff check"; .venv/bin/ruff check .
echo "crm test: ruff format --check"; .venv/bin/ruff format --check .
echo "crm test: makemigrations --check"
CRM_TESTING=1 .venv/bin/python manage.py makemigrations --check --dry-run
echo "crm test: pytest (${DATABASE_URL:-sqlite})"
set +e
# Both cores (CRM_TEST_WORKERS to change it); each worker gets its own test database. "load"
# (not "loadfile") keeps pytest-django's order inside each worker: the transactional tests,
# which empty the database, run after the tests that expect the seeded rows.
.venv/bin/python -m pytest -n "${CRM_TEST_WORKERS:-auto}" --dist load "$@"
rc=$?
set -e
if [ "$rc" = "5" ]; then
  echo "crm test: pytest collected no tests — that is a failure"
  exit 1
fi
exit "$rc"
