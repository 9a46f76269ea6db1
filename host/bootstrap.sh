#!/usr/bin/env bash
# Turns a machine into a game-service host or a job-worker host, or runs a release's database
# migration. EC2 user data only writes the environment file, fetches this script and runs it;
# tests and local hosts run the same script.
#
#   bootstrap.sh --mode ec2|local --role serve|worker|migrate|all --bundle SRC --wheels SRC --env-file FILE [options]
#
# SRC is an s3:// URL (ec2) or a local .zip or directory. Local mode with --netns NAME runs
# the whole boot inside that network namespace (a host of the local topology). Steps:
#   0. local with --netns: re-run inside the namespace  [os_enter_network]
#   1. OS packages (ec2: dnf, with retries); ec2: the CloudWatch agent ships this log from
#      here on                                        [os_packages, os_ship_logs]
#   2. fetch the service bundle and its wheelhouse    [fetch]
#   3. a fresh virtualenv from the wheelhouse only: pip --no-index --require-hashes, pip
#      itself run from the wheelhouse's (locked) pip wheel into a venv made without pip
#   4. --role migrate|all: migrate the database (the release's one-shot step: on EC2 an
#      instance of its own, the only one that may read the master secret; an advisory lock
#      makes concurrent runs migrate once; a rollback's older code no-ops); migrate ends here
#   5. --role serve|all: start the production server, and the job worker beside it when the
#      environment names a job queue (GAME_JOB_QUEUE_URL), unless --without-worker (the
#      stage's worker runs on hosts of its own); --role worker: start only the job worker, no
#      server (a worker tier's host; with --drain-hook, a watcher that stops the worker when
#      its group terminates the host, then completes that hook)  [os_start_service]
#   6. a server: wait for liveness, then deep readiness (database and storage); a worker
#      host: the worker is still running, never restarted, WORKER_SETTLE seconds after its start
#   7. ec2 launched by a group with a launch hook (--lifecycle-hook): complete it, CONTINUE
#      (the group puts the host in service and in its target group); on any failure,
#      ABANDON (the group terminates the host) [os_release_launch]
#   8. ec2 behind a load balancer: wait until the target group calls this host healthy
# It exits 0 only when all of that holds; EC2 user data signals CloudFormation with that
# exit code (what creating the group waits for), and a rollout counts a new host only once
# it is released from the launch hook (and a release reaches its hosts only once its
# migration is done).
# Only the steps marked [os_*] differ between modes (the "named switch").
set -euo pipefail

ARGS=("$@")
MODE=""; ROLE=all; BUNDLE=""; WHEELS=""; ENV_FILE=""; PREFIX=""; NETNS=""
REGION=""; STAGE=""; LOG_GROUP=""; TARGET_GROUP_ARN=""; LIFECYCLE_HOOK=""; WITHOUT_WORKER=""; DRAIN_HOOK=""; PLAN=""
PYTHON=${PYTHON:-python3.11}
# The time budget of every step, in seconds: a step past its budget fails the boot with its
# reason. The worst case adds up below the stack's signal timeout, and the time to liveness
# below the group's health-check grace (tests/host/test_boot_budget.py adds them up).
RETRY_ATTEMPTS=3                  # steps that talk to a network service; 5 s, 10 s between
PACKAGES_ATTEMPT_TIMEOUT=60       # one dnf install
AGENT_TIMEOUT=30                  # starting the CloudWatch agent (ec2)
FETCH_ATTEMPT_TIMEOUT=30          # one download from S3 (bundle, wheelhouse)
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-120}  # pip, from the local wheelhouse
MIGRATE_TIMEOUT=${MIGRATE_TIMEOUT:-300}
LIVE_TIMEOUT=60
READY_TIMEOUT=${READY_TIMEOUT:-120}
WORKER_SETTLE=${WORKER_SETTLE:-15}  # a worker host: a worker that fails at start (configuration) has exited by then
TARGET_HEALTH_TIMEOUT=180         # behind a load balancer: until it calls the host healthy
LIFECYCLE_ATTEMPT_TIMEOUT=20      # one call to complete the launch hook (ec2, in a group)
SHIP_LOG_WAIT=15                  # a failed host waits for the agent to ship its log, then goes

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --role) ROLE=$2; shift 2 ;;
    --bundle) BUNDLE=$2; shift 2 ;;
    --wheels) WHEELS=$2; shift 2 ;;
    --env-file) ENV_FILE=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --netns) NETNS=$2; shift 2 ;;
    --region) REGION=$2; shift 2 ;;
    --stage) STAGE=$2; shift 2 ;;
    --log-group) LOG_GROUP=$2; shift 2 ;;
    --target-group-arn) TARGET_GROUP_ARN=$2; shift 2 ;;
    --lifecycle-hook) LIFECYCLE_HOOK=$2; shift 2 ;;
    --without-worker) WITHOUT_WORKER=1; shift ;;
    --drain-hook) DRAIN_HOOK=$2; shift 2 ;;
    --plan) PLAN=1; shift ;;  # print what this host would run (migrate, server, worker) and stop
    --ready-timeout) READY_TIMEOUT=$2; shift 2 ;;
    --migrate-timeout) MIGRATE_TIMEOUT=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "bootstrap: unknown argument $1" >&2; usage ;;
  esac
done
case "$MODE" in ec2|local) ;; *) echo "bootstrap: --mode must be ec2 or local" >&2; usage ;; esac
case "$ROLE" in serve|worker|migrate|all) ;; *) echo "bootstrap: --role must be serve, worker, migrate or all" >&2; usage ;; esac
for required in BUNDLE WHEELS ENV_FILE; do
  [[ -n "${!required}" ]] || { echo "bootstrap: --$(tr '_A-Z' '-a-z' <<<"$required") is required" >&2; usage; }
done
[[ -r "$ENV_FILE" ]] || { echo "bootstrap: cannot read the environment file $ENV_FILE" >&2; exit 2; }
if [[ "$MODE" == ec2 ]]; then
  PREFIX=${PREFIX:-/opt/game}
  [[ -z "$NETNS" ]] || { echo "bootstrap: --netns is for --mode local (an EC2 host has its own network)" >&2; exit 2; }
  for required in REGION STAGE LOG_GROUP; do
    [[ -n "${!required}" ]] || { echo "bootstrap: --$(tr '_A-Z' '-a-z' <<<"$required") is required in ec2 mode" >&2; exit 2; }
  done
else
  PREFIX=${PREFIX:-$PWD/var/host}
fi
has_job_queue() {  # the environment names a job queue
  grep -q '^GAME_JOB_QUEUE_URL=.' "$ENV_FILE"
}
# What this host runs, from its role: the server (serve, all); the job worker beside it when
# there is a queue and the stage has no worker tier, or alone (worker: a worker tier's host).
RUN_SERVER=""; RUN_WORKER=""
case "$ROLE" in
  serve|all) RUN_SERVER=1; if [[ -z "$WITHOUT_WORKER" ]] && has_job_queue; then RUN_WORKER=1; fi ;;
  worker) RUN_WORKER=1
    has_job_queue || { echo "bootstrap: --role worker needs GAME_JOB_QUEUE_URL in the environment file" >&2; exit 2; } ;;
esac
if [[ -n "$WITHOUT_WORKER" && "$ROLE" != serve && "$ROLE" != all ]]; then
  echo "bootstrap: --without-worker is for --role serve or all" >&2; exit 2
fi
if [[ -n "$DRAIN_HOOK" && ( "$ROLE" != worker || "$MODE" != ec2 ) ]]; then
  echo "bootstrap: --drain-hook is for --role worker in --mode ec2 (a worker tier's host)" >&2; exit 2
fi
if [[ -n "$PLAN" ]]; then
  plan=()
  [[ "$ROLE" == migrate || "$ROLE" == all ]] && plan+=(migrate)
  [[ -n "$RUN_SERVER" ]] && plan+=(server)
  [[ -n "$RUN_WORKER" ]] && plan+=(worker)
  [[ -n "$DRAIN_HOOK" ]] && plan+=("drain:$DRAIN_HOOK")
  echo "${plan[*]}"
  exit 0
fi

START=$(date +%s.%N)
elapsed() { awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
log() { echo "bootstrap [$(elapsed) s]: $*"; }
fail() { echo "bootstrap [$(elapsed) s]: FAILED: $*" >&2; exit 1; }
retry() {  # retry ATTEMPTS COMMAND...: for steps that talk to a network service
  local attempts=$1 n=1; shift
  until "$@"; do
    ((n >= attempts)) && return 1
    log "retrying ($n/$attempts failed): $*" >&2; sleep $((n * 5)); n=$((n + 1))
  done
}
env_value() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1; }
# The environment file as systemd's EnvironmentFile reads it: KEY=value lines, values taken
# literally (never run through the shell: a URL's '&' or a '$' stays what it is).
load_env() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && export "${line?}"
  done < "$ENV_FILE"
  return 0
}

PORT=$(env_value GAME_PORT); PORT=${PORT:-8000}
HEALTH_HOST=$(env_value GAME_BIND); [[ -z "$HEALTH_HOST" || "$HEALTH_HOST" == 0.0.0.0 ]] && HEALTH_HOST=127.0.0.1
BASE="http://$HEALTH_HOST:$PORT"
SERVICE_LOG="$PREFIX/log/service.log"
[[ "$MODE" == ec2 ]] && SERVICE_LOG=/var/log/game/service.log

# ---- OS-specific steps ---------------------------------------------------------------
os_enter_network() {  # local with --netns: the host's network is a namespace of its own
  [[ "$MODE" == local && -n "$NETNS" ]] || return 0
  [[ "$(ip netns identify $$ 2>/dev/null)" == "$NETNS" ]] && return 0
  command -v ip >/dev/null || fail "ip (iproute2) not found; it runs the host in namespace $NETNS"
  ip netns pids "$NETNS" >/dev/null 2>&1 || fail "network namespace $NETNS does not exist (or needs root)"
  exec ip netns exec "$NETNS" bash "$0" "${ARGS[@]}"
}

os_packages() {
  if [[ "$MODE" == ec2 ]]; then
    # Amazon Linux's repositories sit in S3, reached through the VPC's gateway endpoint.
    retry "$RETRY_ATTEMPTS" timeout "$PACKAGES_ATTEMPT_TIMEOUT" dnf install -y -q python3.11 unzip amazon-cloudwatch-agent \
      || fail "dnf install"
    id game >/dev/null 2>&1 || useradd --system --home-dir "$PREFIX" --shell /sbin/nologin game
  else
    command -v "$PYTHON" >/dev/null || fail "$PYTHON not found (set PYTHON=...)"
    command -v unzip >/dev/null || fail "unzip not found"
  fi
}

os_start_service() {
  if [[ "$MODE" == ec2 ]]; then
    # One command a line: under `set -e` a failure inside an `a && b && c` chain (but the
    # last) does not stop the script.
    chown -R game:game "$PREFIX" || fail "chown $PREFIX"
    chgrp game "$ENV_FILE" || fail "chgrp $ENV_FILE"
    chmod 0640 "$ENV_FILE" || fail "chmod $ENV_FILE"
    install -d -o game -g game /var/log/game
    # By size, checked every 10 minutes (a timer below): a busy host writes about 100 MB of
    # request lines in that time, and a daily rotation could fill the root volume first.
    cat > /etc/logrotate.d/game <<EOF
$SERVICE_LOG {
  size 100M
  rotate 5
  compress
  missingok
  notifempty
  copytruncate
}
EOF
    cat > /etc/systemd/system/game-logrotate.service <<EOF
[Unit]
Description=Rotate the game service's log when it is over its size
[Service]
Type=oneshot
ExecStart=/usr/sbin/logrotate /etc/logrotate.d/game
EOF
    cat > /etc/systemd/system/game-logrotate.timer <<EOF
[Unit]
Description=Every 10 minutes: rotate the game service's log by size
[Timer]
OnActiveSec=10min
OnUnitActiveSec=10min
[Install]
WantedBy=timers.target
EOF
    local units=(game-logrotate.timer)
    if [[ -n "$RUN_SERVER" ]]; then
      write_unit game.service "Game service" serve 35
      os_report_readiness
      units+=(game.service game-readiness.timer)
    fi
    if [[ -n "$RUN_WORKER" ]]; then
      # The job worker, beside the server (stages without a worker tier) or alone (a worker
      # tier's host). SIGTERM: the job in hand gets its grace
      # (GAME_WORKER_SHUTDOWN_GRACE_SECONDS, 25 s), then its message is released; systemd
      # waits longer than that before SIGKILL.
      write_unit game-worker.service "Game job worker" worker 40
      units+=(game-worker.service)
    fi
    if [[ -n "$DRAIN_HOOK" ]]; then
      os_drain_on_termination
      units+=(game-drain.service)
    fi
    systemctl daemon-reload
    systemctl enable --now "${units[@]}"
  else
    mkdir -p "$(dirname "$SERVICE_LOG")"
    if [[ -n "$RUN_SERVER" ]]; then
      if [[ -f "$PREFIX/service.pid" ]] && kill -0 "$(cat "$PREFIX/service.pid")" 2>/dev/null; then
        kill "$(cat "$PREFIX/service.pid")"
        sleep 1
      fi
      (load_env; cd "$PREFIX/app"
       exec setsid "$PREFIX/venv/bin/python" -m game_service serve >>"$SERVICE_LOG" 2>&1 </dev/null) &
      echo $! > "$PREFIX/service.pid"
    fi
    if [[ -n "$RUN_WORKER" ]]; then
      if [[ -f "$PREFIX/worker.pid" ]] && kill -0 "$(cat "$PREFIX/worker.pid")" 2>/dev/null; then
        kill "$(cat "$PREFIX/worker.pid")"
      fi
      (load_env; cd "$PREFIX/app"
       exec setsid "$PREFIX/venv/bin/python" -m game_service worker >>"$SERVICE_LOG" 2>&1 </dev/null) &
      echo $! > "$PREFIX/worker.pid"
      log "job worker started"
    fi
  fi
}

write_unit() {  # write_unit NAME DESCRIPTION COMMAND STOP_TIMEOUT: `python -m game_service COMMAND` as a unit
  cat > "/etc/systemd/system/$1" <<EOF
[Unit]
Description=$2
After=network-online.target
Wants=network-online.target
[Service]
User=game
EnvironmentFile=$ENV_FILE
WorkingDirectory=$PREFIX/app
ExecStart=$PREFIX/venv/bin/python -m game_service $3
Restart=always
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=$4
StandardOutput=append:$SERVICE_LOG
StandardError=inherit
[Install]
WantedBy=multi-user.target
EOF
}

drain_script() {  # the drain watcher (below) for this host's region and drain hook; tests/host runs it
  # The instance metadata's address is the AWS SDKs' setting, AWS_EC2_METADATA_SERVICE_ENDPOINT
  # (169.254.169.254 unless the environment says otherwise); DRAIN_POLL_SECONDS its polling.
  cat <<EOF
#!/bin/bash
set -uo pipefail
IMDS=\${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
imds() { local t; t=\$(curl -fsS -m 5 -X PUT "\${IMDS%/}/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') \
  && curl -fsS -m 5 -H "X-aws-ec2-metadata-token: \$t" "\${IMDS%/}/latest/meta-data/\$1"; }
until [[ "\$(imds autoscaling/target-lifecycle-state)" == Terminated ]]; do sleep "\${DRAIN_POLL_SECONDS:-5}"; done
echo "game-drain: the group is terminating this host: stopping the job worker"
systemctl stop game-worker.service
instance=\$(imds instance-id)
group=\$(timeout 20 aws autoscaling describe-auto-scaling-instances --region $REGION --instance-ids "\$instance" \
  --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text)
timeout 20 aws autoscaling complete-lifecycle-action --region $REGION --auto-scaling-group-name "\$group" \
  --lifecycle-hook-name $DRAIN_HOOK --instance-id "\$instance" --lifecycle-action-result CONTINUE
EOF
}

os_drain_on_termination() {  # ec2, a worker tier's host: the job in hand finishes before the host goes
  # The group holds a host it terminates (scale-in, a rollout) in Terminating:Wait for the
  # drain hook's heartbeat timeout. Nothing on the host would notice (the worker would go on
  # taking jobs), so this watcher reads the host's target lifecycle state from the instance
  # metadata; at "Terminated" it stops the worker (SIGTERM: it finishes its job or releases
  # the message) and completes the hook. If it cannot, the hook's default result (CONTINUE)
  # ends the wait at its timeout, and the shutdown stops the worker the same way.
  drain_script > /usr/local/bin/game-drain
  chmod 0755 /usr/local/bin/game-drain
  cat > /etc/systemd/system/game-drain.service <<EOF
[Unit]
Description=Stop the job worker when the group terminates this host, then complete its drain hook
After=network-online.target
Wants=network-online.target
[Service]
Type=simple
ExecStart=/usr/local/bin/game-drain
Restart=on-failure
RestartSec=5
StandardOutput=append:$SERVICE_LOG
StandardError=inherit
[Install]
WantedBy=multi-user.target
EOF
}

os_ship_logs() {  # ec2: the CloudWatch agent ships this boot's log (and later the service's)
  [[ "$MODE" == ec2 ]] || return 0
  cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<EOF
{"agent": {"metrics_collection_interval": 60},
 "logs": {"logs_collected": {"files": {"collect_list": [
   {"file_path": "$SERVICE_LOG", "log_group_name": "$LOG_GROUP", "log_stream_name": "{instance_id}/service"},
   {"file_path": "/var/log/game-bootstrap.log", "log_group_name": "$LOG_GROUP", "log_stream_name": "{instance_id}/bootstrap"}]}}},
 "metrics": {"namespace": "Game/Host",
   "append_dimensions": {"InstanceId": "\${aws:InstanceId}", "AutoScalingGroupName": "\${aws:AutoScalingGroupName}"},
   "aggregation_dimensions": [["AutoScalingGroupName"], ["InstanceId"]],
   "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}, "disk": {"measurement": ["used_percent"], "resources": ["/"]}}}}
EOF
  timeout "$AGENT_TIMEOUT" /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json || fail "start the CloudWatch agent"
}

os_report_readiness() {  # ec2 hosts: a timer reports deep readiness to CloudWatch every minute
  cat > /usr/local/bin/game-readiness <<EOF
#!/bin/bash
if curl -fsS -m 10 -o /dev/null $BASE/api/health/ready; then value=1; else value=0; fi
aws cloudwatch put-metric-data --region $REGION --namespace Game/Health --metric-name Ready --dimensions Stage=$STAGE --value \$value
EOF
  chmod 0755 /usr/local/bin/game-readiness
  cat > /etc/systemd/system/game-readiness.service <<EOF
[Unit]
Description=Report the game service's readiness (database, storage) to CloudWatch
[Service]
Type=oneshot
ExecStart=/usr/local/bin/game-readiness
EOF
  cat > /etc/systemd/system/game-readiness.timer <<EOF
[Unit]
Description=Every minute: game readiness
[Timer]
OnActiveSec=2min
OnUnitActiveSec=1min
[Install]
WantedBy=timers.target
EOF
}

RELEASED=""
os_release_launch() {  # os_release_launch CONTINUE|ABANDON: ec2, launched by a group with a launch hook
  [[ "$MODE" == ec2 && -n "$LIFECYCLE_HOOK" && -z "$RELEASED" ]] || return 0
  local token instance group
  token=$(curl -fsS -m 5 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  instance=$(curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
  group=$(retry "$RETRY_ATTEMPTS" timeout "$LIFECYCLE_ATTEMPT_TIMEOUT" aws autoscaling describe-auto-scaling-instances \
    --region "$REGION" --instance-ids "$instance" --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text) \
    || fail "find the Auto Scaling group of $instance"
  retry "$RETRY_ATTEMPTS" timeout "$LIFECYCLE_ATTEMPT_TIMEOUT" aws autoscaling complete-lifecycle-action --region "$REGION" \
    --auto-scaling-group-name "$group" --lifecycle-hook-name "$LIFECYCLE_HOOK" --instance-id "$instance" \
    --lifecycle-action-result "$1" || fail "complete the launch hook $LIFECYCLE_HOOK ($1)"
  RELEASED=$1
  log "launch hook $LIFECYCLE_HOOK completed: $1"
}

# Any failure of a group's host: counted (a rollout fails on it: Game/Host BootFailed), and
# a host held by the launch hook is abandoned (the group terminates it and launches another),
# after the agent has had time to ship this log.
on_exit() {
  local rc=$?
  if ((rc != 0)) && [[ "$MODE" == ec2 && -n "$LIFECYCLE_HOOK" ]]; then
    timeout "$LIFECYCLE_ATTEMPT_TIMEOUT" aws cloudwatch put-metric-data --region "$REGION" --namespace Game/Host \
      --metric-name BootFailed --dimensions "Stage=$STAGE" --value 1 || true
    if [[ -z "$RELEASED" ]]; then
      sleep "$SHIP_LOG_WAIT"
      os_release_launch ABANDON || true
    fi
  fi
  exit "$rc"
}
trap on_exit EXIT

os_wait_in_load_balancer() {  # ec2 behind a target group only
  [[ "$MODE" == ec2 && -n "$TARGET_GROUP_ARN" ]] || return 0
  local token instance state=unknown
  token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
  local deadline=$((SECONDS + TARGET_HEALTH_TIMEOUT))
  while ((SECONDS < deadline)); do
    state=$(timeout 20 aws elbv2 describe-target-health --region "$REGION" --target-group-arn "$TARGET_GROUP_ARN" \
      --targets "Id=$instance" --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text || true)
    [[ "$state" == healthy ]] && { log "healthy in the target group"; return 0; }
    sleep 10
  done
  fail "not healthy in the target group after $TARGET_HEALTH_TIMEOUT s (last state: $state)"
}

# ---- the same in every mode ----------------------------------------------------------
fetch() {  # fetch SRC DEST_DIR: unpack a zip (from S3 or a path) or copy a directory
  local src=$1 dest=$2 tmp
  rm -rf "$dest"
  mkdir -p "$dest"
  if [[ -d "$src" ]]; then cp -a "$src/." "$dest/"; return; fi
  if [[ "$src" == s3://* ]]; then
    tmp=$(mktemp)
    retry "$RETRY_ATTEMPTS" timeout "$FETCH_ATTEMPT_TIMEOUT" aws s3 cp --only-show-errors --region "$REGION" "$src" "$tmp" \
      || fail "download $src"
  else
    tmp=$src
  fi
  unzip -q -o "$tmp" -d "$dest" || fail "unpack $src"
}

wait_for() {  # wait_for WHAT URL SECONDS
  local what=$1 url=$2 deadline=$((SECONDS + $3)) body=""
  until body=$(curl -fsS -m 5 "$url" 2>&1); do
    if ((SECONDS >= deadline)); then
      body=$(curl -sS -m 5 "$url" 2>&1 || true)
      fail "$what did not pass within $3 s: $url answered: ${body:0:300}"
    fi
    sleep 1
  done
  log "$what ok"
}

worker_runs() {  # a worker host: the worker has no HTTP to ask; it must still be running, never restarted
  sleep "$WORKER_SETTLE"
  local running=""
  if [[ "$MODE" == ec2 ]]; then
    if systemctl is-active --quiet game-worker.service \
      && [[ "$(systemctl show -p NRestarts --value game-worker.service)" == 0 ]]; then running=1; fi
  elif kill -0 "$(cat "$PREFIX/worker.pid")" 2>/dev/null; then
    running=1
  fi
  [[ -n "$running" ]] || fail "the job worker is not running $WORKER_SETTLE s after its start (its log: $SERVICE_LOG)"
  log "job worker running"
}

os_enter_network
log "mode $MODE, role $ROLE, prefix $PREFIX${NETNS:+, network namespace $NETNS}"
os_packages
os_ship_logs
mkdir -p "$PREFIX"
fetch "$BUNDLE" "$PREFIX/app/game_service"
fetch "$WHEELS" "$PREFIX/wheels"
log "bundle and wheelhouse fetched"

rm -rf "$PREFIX/venv"
# pip runs --no-compile: a module is byte-compiled when it is first imported (by migrate, or by
# the first worker) and every later process reads the bytecode. A PYTHONDONTWRITEBYTECODE
# inherited from the caller's environment (`--mode local`: a shell or CI; systemd gives EC2
# hosts a clean one) would make each of the host's processes compile all it imports again,
# twice the CPU of an import (1.1 s -> 2.4 s on a 2-core machine, measured).
unset PYTHONDONTWRITEBYTECODE
# No pip of the OS's: venv's own pip install (ensurepip) takes longer than installing the whole
# service. pip runs from its wheel (`python pip-*.whl/pip`, which pip's entry point supports),
# the locked one, and installs itself into the venv with the rest.
shopt -s nullglob
PIP_WHEELS=("$PREFIX"/wheels/pip-*-py3-none-any.whl)
shopt -u nullglob
((${#PIP_WHEELS[@]} == 1)) || fail "the wheelhouse must hold exactly one pip wheel (found ${#PIP_WHEELS[@]})"
"$PYTHON" -m venv --without-pip "$PREFIX/venv"
timeout "$INSTALL_TIMEOUT" "$PREFIX/venv/bin/python" "${PIP_WHEELS[0]}/pip" install --quiet --disable-pip-version-check --no-index \
  --no-cache-dir --no-compile \
  --find-links "$PREFIX/wheels" --require-hashes --only-binary=:all: \
  -r "$PREFIX/app/game_service/requirements.lock" || fail "pip install from the wheelhouse"
log "service installed from the wheelhouse (no package index)"

if [[ "$ROLE" == migrate || "$ROLE" == all ]]; then
  (load_env; cd "$PREFIX/app"  # the migration gives up cleanly 10 s before its budget is out
   exec timeout "$MIGRATE_TIMEOUT" "$PREFIX/venv/bin/python" -m game_service migrate --timeout $((MIGRATE_TIMEOUT - 10))) \
    || fail "database migration (exit $?; a timeout is exit 124)"
  log "database migrated"
fi
if [[ "$ROLE" == migrate ]]; then
  log "MIGRATED in $(elapsed) s"
  exit 0
fi

os_start_service
if [[ -n "$RUN_SERVER" ]]; then
  wait_for "liveness" "$BASE/api/health/live" "$LIVE_TIMEOUT"
  wait_for "deep readiness (database, storage)" "$BASE/api/health/ready" "$READY_TIMEOUT"
else
  worker_runs
fi
os_release_launch CONTINUE
os_wait_in_load_balancer
log "READY in $(elapsed) s"
