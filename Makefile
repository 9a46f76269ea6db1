# One target per entry point; laptop and CI call the same scripts.
.PHONY: setup setup-system synth test test-fast snapshots diff bench-synth report play bench-service lock wheelhouse bootstrap deploy destroy rehearse clean local local-down local-status bench-scale

setup:          ## what synth and deploy need, no root: .venv, the pinned CDK CLI, the hosts' wheelhouses
	scripts/setup.sh

setup-system:   ## the Debian packages tests and local tools need (scripts/system-packages.txt; root or sudo)
	scripts/setup-system.sh

synth: setup    ## synthesize every stage offline; print a summary per stage
	scripts/synth.sh

test: setup setup-system ## the whole test suite (PostgreSQL at 127.0.0.1:5432, else a throwaway cluster it starts)
	scripts/test.sh

test-fast: setup setup-system ## the edit loop: every test not marked slow
	scripts/test.sh -m 'not slow'

snapshots: setup ## re-record the committed template snapshots (and the README's generated blocks) on purpose
	PATH="$$PWD/node_modules/.bin:$$PATH" .venv/bin/python -m checks.snapshots record
	PATH="$$PWD/node_modules/.bin:$$PATH" .venv/bin/python -m checks.readme_blocks

diff: setup     ## no STAGE: a fresh synth against the committed snapshots, offline (replacements first). STAGE=...: against that stage as deployed (ARGS as for deploy)
	@if [ -n "$(STAGE)" ]; then scripts/deploy.sh diff $(STAGE) $(ARGS); else scripts/diff.sh; fi

bench-synth: setup ## wall time of synthesizing all stages vs an empty CDK app
	.venv/bin/python bench/synth_bench.py

report: setup   ## "is it distributed?" report of every stage (synthesizes first)
	scripts/report.sh

play: setup     ## run the game locally on embedded defaults (SQLite, local files)
	.venv/bin/python -m game_service

bench-service: setup setup-system ## load benchmark of the game service against PostgreSQL
	.venv/bin/python bench/service_bench.py

local: setup setup-system ## a stage's shape on this machine, STAGE=starter|small|scale-out (default scale-out): its min_instances app hosts round-robin over its AZs (HOSTS= overrides the count; namespaces, bootstrap), scale-out's worker hosts (WORKERS=), HAProxy, PostgreSQL, moto (S3, Secrets Manager, SQS), front door; prints the URL
	scripts/local.sh up $(if $(STAGE),--stage $(STAGE)) $(if $(HOSTS),--hosts $(HOSTS)) $(if $(WORKERS),--workers $(WORKERS)) $(ARGS)

local-down:     ## stop the local topology: no process, namespace or mount left
	scripts/local.sh down

local-status:   ## each local host's AZ and health as the load balancer sees it
	scripts/local.sh status

bench-scale: setup setup-system ## scale curve through the local front door: 1, 2, 3 hosts, throughput, p50/p99, errors, CPU per component
	.venv/bin/python bench/scale_bench.py

lock: setup    ## re-resolve game_service/requirements.lock (hashes of every transitive dependency) from requirements.txt
	cd game_service && ../.venv/bin/uv pip compile requirements.txt --python-version 3.11 \
	  --python-platform aarch64-manylinux_2_28 --generate-hashes --no-header -q -o requirements.lock

wheelhouse: setup ## build the hosts' wheelhouses from the lock (setup does it too)
	.venv/bin/python -m host.wheelhouse --platform aarch64 --platform x86_64

bootstrap: setup ## cdk bootstrap of the account and region of STAGE (default starter)
	scripts/deploy.sh bootstrap $(or $(STAGE),starter) $(ARGS)

deploy: setup   ## deploy STAGE (starter|small|scale-out) to the account of your AWS credentials or ACCOUNT=
	scripts/deploy.sh deploy $(or $(STAGE),starter) $(ARGS)

destroy: setup  ## tear STAGE down (its stateful stacks keep what their policies retain)
	scripts/deploy.sh destroy $(or $(STAGE),starter) $(ARGS)

rehearse: setup ## bootstrap, deploy, change, diff, destroy and deploy again, through the real CDK CLI against an AWS API emulator (no account)
	.venv/bin/python -m checks.rehearsal

clean:
	rm -rf cdk.out .pytest_cache
