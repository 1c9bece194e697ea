#!/usr/bin/env bash
# A private single-node SLURM cluster on localhost, without systemd, for testing the
# workflow's SLURM profile (profiles/slurm). Debian 12 / Slurm 22.05, run as root.
#
#   scripts/slurm/cluster.sh start    install what is missing (apt), write the configs, start
#                                     munged, mariadbd, slurmdbd, slurmctld, slurmd; wait until
#                                     the node is idle. Idempotent: a second start only starts
#                                     what is not running (and restarts Slurm if its config changed).
#   scripts/slurm/cluster.sh stop     cancel the cluster's jobs, stop every daemon by the PID in
#                                     its pidfile (the process name is checked first).
#   scripts/slurm/cluster.sh stop --purge   also delete the state directory (jobs, DB, logs).
#   scripts/slurm/cluster.sh status   the daemons, their PIDs and `sinfo`.
#   scripts/slurm/cluster.sh env      prints `export SLURM_CONF=...`: eval "$(cluster.sh env)"
#                                     before using sbatch/squeue/sacct/snakemake on this cluster.
#
# Everything lives in INITLAB_SLURM_DIR (default /tmp/initlab-slurm): configs, munge key and
# socket, MariaDB data, Slurm state, spool, logs and pidfiles; the daemons listen on their own
# ports (INITLAB_SLURM_PORT_BASE, default 16817: slurmctld +0, slurmd +1, slurmdbd +2, MariaDB
# on 127.0.0.1 +3), so the cluster does not collide with a system SLURM/MariaDB/munge. The one
# file outside it is the symlink /etc/slurm/slurm.conf -> $INITLAB_SLURM_DIR/etc/slurm.conf,
# made by start and removed by stop (see link_default_conf for why); start refuses to run if a
# slurm.conf that is not this symlink is already there. Client commands should also see
# SLURM_CONF (see `env`).
#
# Exit codes: 0 ok, 1 error, 77 the packages are missing and apt cannot install them.
#
# Other knobs: INITLAB_SLURM_PARTITION (default "local", the default partition),
# INITLAB_SLURM_TIMEOUT (seconds to wait for each daemon, default 60).
set -euo pipefail

STATE="${INITLAB_SLURM_DIR:-/tmp/initlab-slurm}"
PORT_BASE="${INITLAB_SLURM_PORT_BASE:-16817}"
PARTITION="${INITLAB_SLURM_PARTITION:-local}"
TIMEOUT="${INITLAB_SLURM_TIMEOUT:-60}"
CLUSTER=initlab
NODE=localhost
CTLD_PORT=$((PORT_BASE)); SLURMD_PORT=$((PORT_BASE + 1))
DBD_PORT=$((PORT_BASE + 2)); DB_PORT=$((PORT_BASE + 3))
DB_PASS="initlab-local-only"   # MariaDB listens on 127.0.0.1 only; a throwaway test database

ETC="$STATE/etc"; RUN="$STATE/run"; LOG="$STATE/log"
SLURM_CONF_FILE="$ETC/slurm.conf"; DBD_CONF_FILE="$ETC/slurmdbd.conf"
MUNGE_SOCKET="$RUN/munge.socket"; MUNGE_KEY="$ETC/munge.key"
DB_SOCKET="$RUN/mysqld.sock"; DB_DIR="$STATE/mysql"
export SLURM_CONF="$SLURM_CONF_FILE"

log() { echo "[initlab-slurm +${SECONDS}s] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# daemon table: name, pidfile (the pidfile is written by the daemon itself)
PIDFILE_munged="$RUN/munged.pid"
PIDFILE_mariadbd="$RUN/mysqld.pid"
PIDFILE_slurmdbd="$RUN/slurmdbd.pid"
PIDFILE_slurmctld="$RUN/slurmctld.pid"
PIDFILE_slurmd="$RUN/slurmd.pid"
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)   # start order; stop in reverse

pidfile_of() { local v="PIDFILE_$1"; echo "${!v}"; }

# running NAME: the PID in NAME's pidfile is a live process called NAME; prints the PID
running() {
    local pidfile pid
    pidfile="$(pidfile_of "$1")"
    [ -s "$pidfile" ] || return 1
    pid="$(tr -dc 0-9 <"$pidfile")"
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ] || return 1
    echo "$pid"
}

# stop_daemons NAME...: SIGTERM each PID from its pidfile (together), wait up to 30 s for
# all of them, then SIGKILL what is left
stop_daemons() {
    local name pid pids=() names=()
    for name in "$@"; do
        if pid="$(running "$name")"; then
            log "stopping $name (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid"); names+=("$name")
        fi
        rm -f "$(pidfile_of "$name")"
    done
    local i alive
    for _ in $(seq 1 300); do
        alive=0
        for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        if [ -d "/proc/${pids[i]}" ]; then
            log "${names[i]} (pid ${pids[i]}) still alive after 30 s: SIGKILL"
            kill -KILL "${pids[i]}" 2>/dev/null || true
        fi
    done
}
stop_daemon() { stop_daemons "$1"; }

# wait_for SECONDS CMD...: retry CMD every 0.25 s until it succeeds or SECONDS pass
wait_for() {
    local secs="$1"; shift
    local end=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.25
    done
}

munge_ok() { munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET"; }
db_ok() { mariadb-admin --no-defaults --socket="$DB_SOCKET" -u root ping; }
ctld_ok() { scontrol ping | grep -q "is UP"; }
node_ready() { case "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" in idle|mix|alloc) return 0;; esac; return 1; }

# ------------------------------------------------------------------------------ packages
install_packages() {
    local need=()
    command -v munged >/dev/null || need+=(munge)
    command -v slurmctld >/dev/null || need+=(slurmctld)
    command -v slurmd >/dev/null || need+=(slurmd)
    command -v sbatch >/dev/null || need+=(slurm-client)
    command -v slurmdbd >/dev/null || need+=(slurmdbd)
    { command -v mariadbd && command -v mariadb-install-db && command -v mariadb-admin \
        && command -v mariadb; } >/dev/null || need+=(mariadb-server)
    [ "${#need[@]}" -eq 0 ] && return 0
    log "installing with apt: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' postinst from starting services on their default paths: Debian's
    # docker images ship a policy-rc.d that says "no" (exit 101); add one only if it is absent.
    local own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local ok=1
    # a failed update (one unreachable source) need not stop the install: the install decides
    apt-get update -qq >"$LOG/apt.log" 2>&1 || log "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$LOG/apt.log" 2>&1 || ok=0
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    local b missing=0
    for b in munged slurmctld slurmd sbatch slurmdbd mariadbd mariadb-install-db mariadb-admin mariadb; do
        command -v "$b" >/dev/null || missing=1
    done
    if [ "$ok" = 0 ] || [ "$missing" = 1 ]; then
        tail -n 20 "$LOG/apt.log" >&2 || true
        log "apt cannot install SLURM (${need[*]}); see $LOG/apt.log"
        exit 77
    fi
}

# ------------------------------------------------------------------------------ configs
# write_if_changed DEST MODE: stdin -> DEST when the content differs; returns 0 if written
write_if_changed() {
    local dest="$1" mode="$2" tmp
    tmp="$(mktemp "$dest.XXXXXX")"
    cat >"$tmp"
    if cmp -s "$tmp" "$dest"; then rm -f "$tmp"; return 1; fi
    chmod "$mode" "$tmp"; mv -f "$tmp" "$dest"
    return 0
}

write_configs() {
    # The node line comes from slurmd's own hardware probe, so the node is never drained for
    # "Low RealMemory" or a CPU count mismatch.
    local hw cpus sockets cores threads mem
    hw="$(slurmd -C | head -n1)"
    field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
    cpus="$(field CPUs)"; sockets="$(field SocketsPerBoard)"
    cores="$(field CoresPerSocket)"; threads="$(field ThreadsPerCore)"; mem="$(field RealMemory)"
    [ -n "$cpus" ] && [ -n "$mem" ] || die "could not parse 'slurmd -C': $hw"

    CONF_CHANGED=0
    write_if_changed "$SLURM_CONF_FILE" 0644 <<EOF && CONF_CHANGED=1 || true
# Written by scripts/slurm/cluster.sh: private single-node SLURM on localhost, no systemd.
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/spool/slurmctld
SlurmdSpoolDir=$STATE/spool/slurmd
SlurmctldPidFile=$PIDFILE_slurmctld
SlurmdPidFile=$PIDFILE_slurmd
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
# No cgroups without systemd. Track job processes by process group: proctrack/linuxproc loses a
# job process whose parent shell died first (reparented to init), and such a process (e.g. a
# snakemake jobstep stuck after SIGTERM) then outlives scancel; its pgid still finds it.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
# the 22.05 default select/linear gives a whole node to each job; cons_tres shares it
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
ReturnToService=2
# finished jobs stay in squeue 5 min (the plugin's squeue status mode needs
# MinJobAge >= 3 x slurm-init-seconds-before-status-checks)
MinJobAge=300
# a cancelled job gets SIGKILL 5 s after SIGTERM (default 30 s)
KillWait=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# for the slurmdbd connection the munge socket is taken from here, not from AuthInfo
AccountingStoragePass=$MUNGE_SOCKET
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

    DBD_CHANGED=0
    write_if_changed "$DBD_CONF_FILE" 0600 <<EOF && DBD_CHANGED=1 || true
# Written by scripts/slurm/cluster.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$PIDFILE_slurmdbd
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
}

# The snakemake slurm-jobstep plugin (0.6.1) drops every SLURM_* variable, SLURM_CONF
# included, before the `srun` it runs inside each job; that srun then only finds a config at
# the default path (srun: fatal: Could not establish a configuration source). So the default
# path /etc/slurm/slurm.conf is made a symlink to this cluster's config while it runs; a
# slurm.conf there that is not our symlink is left alone and the start fails.
DEFAULT_CONF=/etc/slurm/slurm.conf
link_default_conf() {
    if [ -L "$DEFAULT_CONF" ] && [ "$(readlink "$DEFAULT_CONF")" = "$SLURM_CONF_FILE" ]; then
        return 0
    fi
    if [ -e "$DEFAULT_CONF" ] || [ -L "$DEFAULT_CONF" ]; then
        die "$DEFAULT_CONF exists and is not ours (another SLURM set-up on this machine?); jobs" \
            "would read it instead of $SLURM_CONF_FILE. Stop that cluster / move the file away."
    fi
    mkdir -p "$(dirname "$DEFAULT_CONF")"
    ln -s "$SLURM_CONF_FILE" "$DEFAULT_CONF"
}
unlink_default_conf() {
    if [ -L "$DEFAULT_CONF" ] && [ "$(readlink "$DEFAULT_CONF")" = "$SLURM_CONF_FILE" ]; then
        rm -f "$DEFAULT_CONF"
    fi
}

# ------------------------------------------------------------------------------ start
start() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    # 0755 all the way: munged refuses keys/sockets in group/world-writable directories
    install -d -m 0755 "$STATE" "$ETC" "$RUN" "$LOG" "$STATE/spool" \
        "$STATE/spool/slurmctld" "$STATE/spool/slurmd"
    install_packages
    write_configs
    link_default_conf

    if [ "$CONF_CHANGED" = 1 ]; then
        # a changed slurm.conf takes effect only on restart
        stop_daemon slurmd; stop_daemon slurmctld
    fi
    [ "$DBD_CHANGED" = 1 ] && stop_daemon slurmdbd

    # munge: own key, socket, pid, log and seed files
    if ! running munged >/dev/null || ! munge_ok >/dev/null 2>&1; then
        stop_daemon munged
        [ -s "$MUNGE_KEY" ] || mungekey --create --keyfile="$MUNGE_KEY" >/dev/null 2>&1 \
            || dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 2>/dev/null
        chmod 0400 "$MUNGE_KEY"
        log "starting munged"
        munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" --pid-file="$PIDFILE_munged" \
            --log-file="$LOG/munged.log" --seed-file="$RUN/munged.seed" --force
        wait_for "$TIMEOUT" munge_ok || die "munged did not come up (see $LOG/munged.log)"
    fi

    # MariaDB for slurmdbd: private datadir, TCP on 127.0.0.1 only, no /etc/mysql defaults
    if ! running mariadbd >/dev/null || ! db_ok >/dev/null 2>&1; then
        stop_daemon mariadbd
        if [ ! -d "$DB_DIR/mysql" ]; then
            log "initialising MariaDB in $DB_DIR"
            mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR" \
                --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
                || die "mariadb-install-db failed (see $LOG/mariadb-install.log)"
        fi
        log "starting mariadbd"
        setsid mariadbd --no-defaults --user=root --datadir="$DB_DIR" --socket="$DB_SOCKET" \
            --pid-file="$PIDFILE_mariadbd" --port="$DB_PORT" --bind-address=127.0.0.1 \
            --innodb-buffer-pool-size=256M --innodb-lock-wait-timeout=900 \
            --log-error="$LOG/mariadbd.log" </dev/null >/dev/null 2>&1 &
        wait_for "$TIMEOUT" db_ok || die "mariadbd did not come up (see $LOG/mariadbd.log)"
        wait_for "$TIMEOUT" running mariadbd || die "mariadbd wrote no pidfile"
        mariadb --no-defaults --socket="$DB_SOCKET" -u root -e "
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
            CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
            || die "could not create the slurm database user"
    fi

    if ! running slurmdbd >/dev/null; then
        log "starting slurmdbd"
        slurmdbd || die "slurmdbd failed (see $LOG/slurmdbd.log)"
        wait_for "$TIMEOUT" sacctmgr -n list cluster \
            || die "slurmdbd did not come up (see $LOG/slurmdbd.log)"
    fi
    # register the cluster before slurmctld does (avoids a registration race)
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi

    if ! running slurmctld >/dev/null; then
        log "starting slurmctld"
        slurmctld -f "$SLURM_CONF_FILE" || die "slurmctld failed (see $LOG/slurmctld.log)"
    fi
    wait_for "$TIMEOUT" ctld_ok || die "slurmctld did not come up (see $LOG/slurmctld.log)"

    # an account with root in it, so that `slurm_account: local` passes the plugin's check
    if ! sacctmgr -n -P list account format=account | grep -qx local; then
        sacctmgr -i add account local cluster="$CLUSTER" >/dev/null
    fi
    if ! sacctmgr -n -P list assoc user=root format=account | grep -qx local; then
        sacctmgr -i add user root account=local cluster="$CLUSTER" >/dev/null
    fi

    if ! running slurmd >/dev/null; then
        log "starting slurmd"
        # -N: the node is called localhost whatever the hostname is
        slurmd -f "$SLURM_CONF_FILE" -N "$NODE" || die "slurmd failed (see $LOG/slurmd.log)"
    fi
    if ! wait_for "$TIMEOUT" node_ready; then
        # e.g. DOWN after an unclean stop: resume it once
        scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        wait_for "$TIMEOUT" node_ready || {
            sinfo -N -l >&2 || true
            die "node $NODE did not become ready (see $LOG/slurmd.log)"
        }
    fi
    for d in "${DAEMONS[@]}"; do
        running "$d" >/dev/null || die "$d is not running"
    done
    log "ready: $(sinfo -h -o '%P %a %D %t %N %c CPUs %m MB')"
    log "use it with: export SLURM_CONF=$SLURM_CONF_FILE"
}

# ------------------------------------------------------------------------------ stop
stop() {
    local purge=0
    [ "${1:-}" = --purge ] && purge=1
    # cancel the jobs first while slurmctld runs, so that no job processes outlive slurmd
    if running slurmctld >/dev/null; then
        local jobs
        jobs="$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')"
        if [ -n "${jobs// /}" ]; then
            log "cancelling jobs: $jobs"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for _ in $(seq 1 40); do
                [ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
    fi
    if [ "$purge" = 1 ]; then
        stop_daemons "${DAEMONS[@]}"          # the state is thrown away: all at once
    else
        # reverse start order, so that slurmctld can hand its last records to slurmdbd
        stop_daemons slurmd slurmctld
        stop_daemons slurmdbd
        stop_daemons mariadbd munged
    fi
    unlink_default_conf
    if [ "$purge" = 1 ]; then
        case "$STATE" in /|"") die "refusing to purge '$STATE'";; esac
        rm -rf "$STATE"
        log "purged $STATE"
    fi
    log "stopped"
}

status() {
    local d pid rc=0
    for d in "${DAEMONS[@]}"; do
        if pid="$(running "$d")"; then echo "$d: running (pid $pid)"; else echo "$d: stopped"; rc=1; fi
    done
    if running slurmctld >/dev/null; then sinfo || true; squeue || true; fi
    return "$rc"
}

case "${1:-}" in
    start) start ;;
    stop) shift; stop "$@" ;;
    status) status ;;
    env) echo "export SLURM_CONF=$SLURM_CONF_FILE" ;;
    *) echo "usage: $0 start|stop [--purge]|status|env" >&2; exit 2 ;;
esac
