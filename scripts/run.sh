#!/usr/bin/env bash
# Quick start: install, create the SQLite database, load demo data when empty, start the web
# app and its background worker, print the URL and the demo logins.
# Honours PORT, DATABASE_URL, CRM_DEMO_PASSWORD (also from a .env file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/crm run "$@"
