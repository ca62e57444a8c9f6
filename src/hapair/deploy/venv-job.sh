#!/bin/sh
# The nodes' venvs built in the background while apply's other steps run,
# and the wait for that build (hapair/deploy/venv_ops.py ships this file).
#
#   venv-job.sh start JOB LOCK     run JOB.sh (the build) detached and niced,
#                                  holding LOCK (a later apply's build waits for
#                                  it); its output in JOB.log, its pid in
#                                  JOB.pid, its exit status in JOB.rc
#   venv-job.sh wait JOB SECONDS   wait for JOB.rc; fail, with the end of the
#                                  log, if the build failed, ended without a
#                                  result or took longer; else clear the job
set -u
usage() { echo "usage: venv-job.sh start JOB LOCK | wait JOB SECONDS" >&2; exit 2; }
[ $# -eq 3 ] || usage
job=$2
case $1 in
start)
    rm -f "$job.rc"
    setsid nohup nice -n 10 flock "$3" sh -c 'sh "$1.sh"; echo $? > "$1.rc"' venv-job "$job" \
        > "$job.log" 2>&1 < /dev/null &
    echo $! > "$job.pid"
    ;;
wait)
    ticks=$(($3 * 10))
    i=0
    while [ ! -e "$job.rc" ]; do
        if ! kill -0 "$(cat "$job.pid")" 2>/dev/null && [ ! -e "$job.rc" ]; then
            echo "the venvs build ended without a result" >&2
            exit 1
        fi
        i=$((i + 1))
        if [ "$i" -gt "$ticks" ]; then
            echo "the venvs build took over $3 s" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [ "$(cat "$job.rc")" != 0 ]; then
        echo "the venvs build failed:" >&2
        tail -n 20 "$job.log" >&2
        exit 1
    fi
    rm -f "$job.rc" "$job.pid" "$job.log" "$job.sh"
    ;;
*) usage ;;
esac
