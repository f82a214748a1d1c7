# Entry points; each installs what it needs first (scripts/bootstrap.sh).
.PHONY: run test lint bench

run:        ## install, create the database, load demo data, start web + worker
	scripts/run.sh

test:       ## lint, migrations check and the whole test suite (SQLite unless DATABASE_URL)
	scripts/test.sh

lint:
	scripts/bootstrap.sh && .venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:      ## generate 100k customers and measure list/search/create (see bench/README.md)
	scripts/bootstrap.sh && .venv/bin/python bench/generate.py --customers 100000 && .venv/bin/python bench/run.py
