#!/usr/bin/env bash
# CI stage: the tiny study on a real SLURM cluster through profiles/slurm.
#
#   bash scripts/slurm/test_slurm.sh
#
# (a) starts the private single-node cluster (scripts/slurm/cluster.sh; reused, and left
#     running, if it is already up), (b) makes a separate venv with `pip install -e '.[slurm]'`
#     (the slurm plugin never goes into the project's main venv), (c) runs the tiny study
#     (tests/data/tiny.yaml) locally (chunks of 64 networks: 4 jobs) and through
#     --workflow-profile profiles/slurm in chunks of 2 (8 jobs), (d) checks that every table
#     but timings.csv and report.pdf are byte-identical, (e) deletes three chunks' results,
#     reruns through SLURM, kills one running training job (scancel
#     --batch --signal=KILL: state FAILED) and checks that the retry, with doubled memory,
#     completes the study with the same bytes, (f) stops what it started and
#     prints the times. Exit 0 = passed; 0 with "SKIPPED: apt cannot install SLURM" when the
#     SLURM packages cannot be installed; anything else = failed.
#
# Knobs: INITLAB_SLURM_VENV (default /tmp/initlab-slurm-venv, recreated every run),
# INITLAB_SLURM_BASE_PYTHON (python of a venv that already has the project's dependencies,
# default: the active $VIRTUAL_ENV; the new venv then reuses its packages through a .pth
# file, and pip only adds the plugin: ~15 s instead of ~70 s of downloads),
# INITLAB_SLURM_RUN_TIMEOUT (seconds per snakemake run, default 300), INITLAB_SLURM_KEEP=1
# (keep the work directory), INITLAB_SLURM_DIR / INITLAB_SLURM_PORT_BASE (see cluster.sh).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/scripts/slurm"
VENV="${INITLAB_SLURM_VENV:-/tmp/initlab-slurm-venv}"
RUN_TIMEOUT="${INITLAB_SLURM_RUN_TIMEOUT:-300}"
export INITLAB_SLURM_DIR="${INITLAB_SLURM_DIR:-/tmp/initlab-slurm}"
export SLURM_CONF="$INITLAB_SLURM_DIR/etc/slurm.conf"
# One run at a time on a machine: two runs would share the cluster, its ports and the venv.
exec 9>"/tmp/initlab-slurm-test.lock"
if ! flock -n 9; then
    echo "[test_slurm] another test_slurm.sh holds /tmp/initlab-slurm-test.lock; waiting (max 15 min)"
    flock -w 900 9 || { echo "[test_slurm] FAILED: lock not acquired"; echo "test_slurm: 0 passed, 1 failed"; exit 1; }
fi
WORK="$(mktemp -d /tmp/initlab-slurm-test.XXXXXX)"

T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '[test_slurm %6ss] %s\n' "$(since "$T0")" "$*"; }
# Each stage that passes counts one check; the last line of the output is the plain summary
# "test_slurm: N passed, M failed" (no such line when SLURM is skipped).
PASSED=0
SUMMARY_DONE=0
ok() { PASSED=$((PASSED + 1)); say "ok $PASSED: $*"; }
summary() { [ "$SUMMARY_DONE" = 1 ] || echo "test_slurm: $PASSED passed, $1 failed"; SUMMARY_DONE=1; }
fail() { say "FAILED: $*"; exit 1; }

started_cluster=0
bg_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
        # SIGINT: snakemake cancels its SLURM jobs and exits (SIGTERM does not stop it)
        kill -INT "$bg_pid" 2>/dev/null || true
        wait "$bg_pid" 2>/dev/null || true
    fi
    if [ "$started_cluster" = 1 ]; then
        say "stopping the cluster"
        bash "$HERE/cluster.sh" stop --purge || rc=1
    fi
    if [ "${INITLAB_SLURM_KEEP:-0}" = 1 ]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    if [ "$rc" = 0 ]; then summary 0; else summary 1; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'say "FAILED: \"$BASH_COMMAND\" exited $? (line $LINENO)"' ERR

show_log() { echo "----- last lines of $1 -----"; tail -n "${2:-40}" "$1" || true; echo "-----"; }

# ------------------------------------------------------------------------ (a) cluster
t=$(now)
if bash "$HERE/cluster.sh" status >/dev/null 2>&1; then
    say "cluster already running: reusing it (it is left running)"
else
    started_cluster=1
    rc=0
    bash "$HERE/cluster.sh" start || rc=$?
    if [ "$rc" = 77 ]; then
        started_cluster=0
        bash "$HERE/cluster.sh" stop --purge >/dev/null 2>&1 || true   # nothing runs; drop the dir
        echo "########################################################################"
        echo "### SKIPPED: apt cannot install SLURM (slurmctld slurmd slurm-client ###"
        echo "### munge slurmdbd mariadb-server); the SLURM stage did not run.      ###"
        echo "########################################################################"
        SUMMARY_DONE=1
        exit 0
    fi
    [ "$rc" = 0 ] || fail "cluster.sh start exited $rc (logs: $INITLAB_SLURM_DIR/log)"
fi
T_CLUSTER=$(since "$t")
ok "cluster up in ${T_CLUSTER}s: $(sinfo -h -o '%P %t %c CPUs')"

# ------------------------------------------------------------------------ (b) venv
t=$(now)
base_py="${INITLAB_SLURM_BASE_PYTHON:-}"
if [ -z "$base_py" ] && [ -n "${VIRTUAL_ENV:-}" ]; then base_py="$VIRTUAL_ENV/bin/python"; fi
rm -rf "$VENV"
overlay=0
if [ -n "$base_py" ] && "$base_py" -c 'import sys, numpy, scipy, pandas, sklearn, matplotlib, snakemake
assert sys.prefix != sys.base_prefix' >/dev/null 2>&1; then
    # Same interpreter as the base venv, which must not get the plugin: a fresh venv whose .pth
    # appends the base venv's site-packages to sys.path (after its own), so pip finds the
    # dependencies installed and adds only the plugin and this checkout (editable). The base
    # venv's pip installs into it (--python), which saves ensurepip's ~5 s.
    "$base_py" -m venv --without-pip "$VENV"
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    "$base_py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/initlab-base-venv.pth"
    pip=("$base_py" -m pip --python "$VENV/bin/python")
    if ! "${pip[@]}" --version >/dev/null 2>&1; then   # pip < 22.3 has no --python
        "$VENV/bin/python" -m ensurepip --upgrade >/dev/null
        pip=("$VENV/bin/python" -m pip)
    fi
    overlay=1
else
    python3 -m venv "$VENV"
    pip=("$VENV/bin/python" -m pip)
fi
"${pip[@]}" install --quiet --disable-pip-version-check -e "$ROOT[slurm]" \
    >"$WORK/pip.log" 2>&1 || { show_log "$WORK/pip.log"; fail "pip install -e '.[slurm]'"; }
PY="$VENV/bin/python"
"$PY" -c 'import snakemake_executor_plugin_slurm, initlab, os, sys
assert os.path.realpath(initlab.__file__).startswith(os.path.realpath(sys.argv[1]))' "$ROOT" \
    || fail "the slurm venv does not see this checkout's initlab or the plugin"
if [ -n "$base_py" ] && "$base_py" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null; then
    say "WARNING: the base venv ($base_py) has the slurm plugin installed; it should not"
fi
T_VENV=$(since "$t")
ok "venv $VENV ready in ${T_VENV}s (overlay on base venv: $overlay)"
# jobs call `initlab` from PATH; sbatch --export=ALL passes PATH on to them
export PATH="$VENV/bin:$PATH"

# ------------------------------------------------------------------------ (c) local + SLURM runs
# snakemake WORKDIR LOG ARGS...: the repository's workflow on the tiny study in WORKDIR
snakemake_run() {
    local workdir="$1" log="$2"; shift 2
    (cd "$workdir" && timeout -s INT -k 60 "$RUN_TIMEOUT" "$PY" -m snakemake \
        -s "$ROOT/Snakefile" --directory "$workdir" --configfile "$workdir/config.yaml" \
        "$@" >"$log" 2>&1)
}
SLURM_ARGS=(--workflow-profile "$ROOT/profiles/slurm"
    # CI only: poll 2 s after submission and after each finished job (plugin default 40 s)
    --slurm-init-seconds-before-status-checks 2 --seconds-between-status-checks 1)

LOCAL="$WORK/local"; SLURM="$WORK/slurm"
mkdir -p "$LOCAL" "$SLURM"
cp "$ROOT/tests/data/tiny.yaml" "$LOCAL/config.yaml"
cp "$ROOT/tests/data/tiny.yaml" "$SLURM/config.yaml"
# the cluster run trains the same networks in chunks of 2 (one initializer, both seeds): the
# tables and report must not depend on the chunking
echo "chunk_size: 2" >> "$SLURM/config.yaml"

t=$(now)
snakemake_run "$LOCAL" "$WORK/local.log" --workflow-profile "$ROOT/profiles/default" --cores 2 \
    || { show_log "$WORK/local.log"; fail "local run"; }
T_LOCAL=$(since "$t")
ok "local tiny study: ${T_LOCAL}s"

t=$(now)
snakemake_run "$SLURM" "$WORK/slurm.log" "${SLURM_ARGS[@]}" \
    || { show_log "$WORK/slurm.log" 60; fail "SLURM run (slurm logs: $SLURM/.snakemake/slurm_logs)"; }
T_SLURM=$(since "$t")

# every job but the localrules went through sbatch: prepare_data + 8 chunks of train_networks
n_sub=$(grep -c "has been submitted with SLURM jobid" "$WORK/slurm.log" || true)
[ "$n_sub" = 9 ] || { show_log "$WORK/slurm.log" 60; fail "expected 9 SLURM submissions, saw $n_sub"; }
run_id=$(sed -n 's/^SLURM run ID: //p' "$WORK/slurm.log" | head -n1)
n_done=$(sacct -X -n -P --name "$run_id" -S now-1hours -o State | grep -c '^COMPLETED$' || true)
[ "$n_done" = 9 ] || fail "sacct lists $n_done COMPLETED jobs named $run_id, expected 9"
ok "SLURM tiny study: ${T_SLURM}s, 9 jobs COMPLETED in sacct"

# ------------------------------------------------------------------------ (d) same bytes
compare() {   # compare DIR LABEL: tables (but timings.csv) and report.pdf equal the local ones
    local dir="$1" label="$2" n=0 f rel
    while IFS= read -r f; do
        rel="${f#"$LOCAL"/}"
        [ -f "$dir/$rel" ] || fail "$label: $rel is missing"
        cmp -s "$f" "$dir/$rel" || fail "$label: $rel differs from the local run"
        n=$((n + 1))
    done < <(find "$LOCAL/results/tables" \( -name '*.csv' -o -name '*.parquet' \) ! -name timings.csv | sort)
    [ "$n" -ge 5 ] || fail "only $n tables found in the local run"
    cmp -s "$LOCAL/results/report.pdf" "$dir/results/report.pdf" \
        || fail "$label: results/report.pdf differs from the local run"
    ok "$label: $n tables + report.pdf byte-identical to the local run"
}
compare "$SLURM" "SLURM run"

# ------------------------------------------------------------------------ (e) fault + retry
# Resume-style rerun: three chunks lose their results (and the tables and report that
# depend on them, else Snakemake sees nothing to do). While one of the three SLURM jobs runs,
# `scancel --batch --signal=KILL` kills it the way a node-side kill (OOM killer, crash) does:
# SLURM marks it FAILED, and the retry (retries: 2; train_networks asks for twice the memory
# on attempt 2) must complete the study with the same bytes.
# NB: a plain `scancel <job>` is NOT used: sacct then reports 'CANCELLED by <uid>', which
# snakemake-executor-plugin-slurm 2.8.0 does not recognise as a failure (it only knows
# 'CANCELLED'), so the run waits for that job forever (measured: hung until the timeout).
for chunk in tanh/d3/c0 relu/d3/c1 tanh/d1/c1; do   # c0 standard_uniform, c1 he_normal
    rm -rf "$SLURM/results/runs/digits/$chunk"
done
rm -rf "$SLURM/results/tables" "$SLURM/results/report.pdf"
t=$(now)
snakemake_run "$SLURM" "$WORK/fault.log" "${SLURM_ARGS[@]}" &
bg_pid=$!
killed=""
killed_wc=""
fault_run_id=""
while kill -0 "$bg_pid" 2>/dev/null; do
    [ -n "$fault_run_id" ] \
        || fault_run_id=$(sed -n 's/^SLURM run ID: //p' "$WORK/fault.log" 2>/dev/null | head -n1 || true)
    if [ -n "$fault_run_id" ]; then
        # a RUNNING training job of this run: "<jobid> rule_train_networks_wildcards_<wc>"
        read -r killed killed_wc < <(squeue -h -t RUNNING --name "$fault_run_id" -o '%i %k' 2>/dev/null \
            | awk '$2 ~ /^rule_train_networks_wildcards_/ {sub(/^rule_train_networks_wildcards_/, "", $2); print $1, $2; exit}') || true
        if [ -n "$killed" ]; then
            sleep 1   # let it get going (the nested snakemake starts the training)
            if scancel --batch --signal=KILL "$killed" 2>/dev/null; then
                say "killed running training job $killed ($killed_wc) with scancel --batch --signal=KILL"
                break
            fi
            killed=""   # it had already finished: take the next one
        fi
    fi
    sleep 0.2
done
rc=0
wait "$bg_pid" || rc=$?
bg_pid=""
T_FAULT=$(since "$t")
[ -n "$killed" ] || { show_log "$WORK/fault.log" 60; fail "no running training job was seen to kill"; }
[ "$rc" = 0 ] || { show_log "$WORK/fault.log" 80; fail "the run with a killed job exited $rc"; }
state=$(sacct -X -n -P -j "$killed" -o State | head -n1)
[ "$state" = FAILED ] || fail "job $killed is '$state' in sacct, expected FAILED"
grep -q "SLURM-job '$killed' failed, SLURM status is: 'FAILED'" "$WORK/fault.log" \
    || { show_log "$WORK/fault.log" 60; fail "snakemake did not report job $killed as FAILED"; }
grep -q "Trying to restart job" "$WORK/fault.log" \
    || { show_log "$WORK/fault.log" 60; fail "snakemake did not retry the failed job"; }
n_sub=$(grep -c "has been submitted with SLURM jobid" "$WORK/fault.log" || true)
[ "$n_sub" = 4 ] || { show_log "$WORK/fault.log" 60; fail "expected 3 + 1 retried submissions, saw $n_sub"; }
# the retry of that chunk asked for twice the memory (resources scale with attempt)
retry=$(sed -n "s|.*submitted with SLURM jobid \([0-9]*\) (log: .*/rule_train_networks/$killed_wc/.*|\1|p" \
    "$WORK/fault.log" | grep -vx "$killed" | head -n1 || true)
[ -n "$retry" ] || fail "no resubmission of $killed_wc found in the log"
mem1=$(sacct -X -n -P -j "$killed" -o ReqMem | head -n1 | tr -dc 0-9)
mem2=$(sacct -X -n -P -j "$retry" -o ReqMem | head -n1 | tr -dc 0-9)
[ -n "$mem1" ] && [ "$mem2" = $((2 * mem1)) ] \
    || fail "retry $retry asked for ${mem2}M memory, attempt 1 ($killed) for ${mem1}M: expected double"
ok "fault run: job $killed FAILED, resubmitted as $retry (--mem ${mem1}M -> ${mem2}M), study complete in ${T_FAULT}s"
compare "$SLURM" "SLURM run after kill + retry"

# ------------------------------------------------------------------------ (f) summary
echo
echo "SLURM stage timings (this machine: $(nproc) CPUs):"
printf '  %-44s %7ss\n' "cluster bring-up (cluster.sh start)" "$T_CLUSTER" \
    "venv with .[slurm] (overlay=$overlay)" "$T_VENV" \
    "tiny study, local (--cores 2)" "$T_LOCAL" \
    "tiny study, SLURM (9 sbatch jobs)" "$T_SLURM" \
    "rerun of 3 chunks, 1 killed + retried" "$T_FAULT"
say "PASSED"
