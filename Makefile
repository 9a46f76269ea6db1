# One target per entry point; laptop and CI call the same scripts.
.PHONY: setup synth test snapshots diff bench-synth report play bench-service clean

setup:          ## install everything (Debian packages, .venv, pinned CDK CLI)
	scripts/setup.sh

synth: setup    ## synthesize every stage offline; print a summary per stage
	scripts/synth.sh

test: setup     ## the whole test suite (needs PostgreSQL at 127.0.0.1:5432)
	scripts/test.sh

snapshots: setup ## re-record the committed template snapshots (and the README's generated blocks) on purpose
	PATH="$$PWD/node_modules/.bin:$$PATH" .venv/bin/python -m tooling.snapshots record
	PATH="$$PWD/node_modules/.bin:$$PATH" .venv/bin/python -m tooling.readme_blocks

diff: setup     ## replacements and deletions first (STATEFUL flagged, exit 1), then `cdk diff --template` of a fresh synth against the committed snapshots
	scripts/diff.sh

bench-synth: setup ## wall time of synthesizing all stages vs an empty CDK app
	.venv/bin/python bench/synth_bench.py

report: setup   ## "is it distributed?" report of every stage (synthesizes first)
	scripts/report.sh

play: setup     ## run the game locally on embedded defaults (SQLite, local files)
	.venv/bin/python -m game_service

bench-service: setup ## load benchmark of the game service against PostgreSQL
	.venv/bin/python bench/service_bench.py

clean:
	rm -rf cdk.out .pytest_cache
