#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside a booted Debian 12 container (systemd is PID 1), started by run-container-test with
# systemd.run=: installs the pard .deb (with libpard0 and libpard-dev) from /ci, exercises the
# units as a user would, purges the packages. Writes test.log and summary.txt to /ci-out; exits 0
# only when every check passed.
#
# This script runs inside the boot transaction: never wait for the whole system
# (`systemctl is-system-running --wait` would deadlock); check the units it cares about.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0

out=/ci-out
log=$out/test.log
summary=$out/summary.txt
: >"$log"
: >"$summary"
exec 3>&1 # the console: progress lines go there as well as to the log
exec >>"$log" 2>&1

passed=0
failed=0
note() { printf '%s\n' "$*" | tee -a "$summary" >&3; }
pass() {
	passed=$((passed + 1))
	note "PASS $1"
}
fail() {
	failed=$((failed + 1))
	note "FAIL $1${2:+: $2}"
}
# check NAME CMD...: runs CMD (output to the log), PASS when it exits 0.
check() {
	local name=$1
	shift
	echo "+ $*"
	if "$@"; then pass "$name"; else fail "$name" "exit $? from: $*"; fi
}
# expect_rc NAME RC CMD...: PASS when CMD exits with RC.
expect_rc() {
	local name=$1 want=$2
	shift 2
	echo "+ $*"
	"$@"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then pass "$name"; else fail "$name" "exit $rc, expected $want, from: $*"; fi
}
section() { printf '\n== %s\n' "$*"; }
# wait_for SECS CMD...: polls CMD every 0.1 s until it succeeds; returns 1 after SECS seconds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
# Every client call has a time limit, so a daemon that stops answering fails a check instead of
# hanging the container until its time-out.
as_user() {
	local u=$1
	shift
	timeout 120 runuser -u "$u" -- "$@"
}
parctl() { timeout 120 /usr/bin/parctl "$@"; }
unit_active() { [ "$(systemctl is-active "$1")" = active ]; }
unit_inactive() { [ "$(systemctl is-active "$1")" != active ]; }
main_pid() { systemctl show -p MainPID --value pard.service; }

section "system"
uname -a
systemctl --version | head -1
nproc
cat /etc/debian_version

section "install"
deb=$(ls /ci/pard_*.deb)
check "dpkg -i libpard0 $(basename "$deb") libpard-dev" dpkg -i /ci/libpard0_*.deb "$deb" /ci/libpard-dev_*.deb
check "libpard.so.0 is known to the dynamic linker" sh -c 'ldconfig -p | grep -q "libpard.so.0 "'
check "parctl runs on libpard0" sh -c 'ldd /usr/bin/parctl | grep -q "libpard.so.0 => /.*/libpard.so.0 "'
check "pard user and group exist" getent passwd pard
getent group pard
check "group pard-monitor exists (sysusers.d)" getent group pard-monitor
check "pard.socket enabled" test "$(systemctl is-enabled pard.socket)" = enabled
check "pard.socket active" unit_active pard.socket
sock_perm=$(stat -c '%a %U %G %F' /run/pard/pard.sock)
echo "socket: $sock_perm"
check "/run/pard/pard.sock is mode 660, pard:pard" test "$sock_perm" = "660 pard pard socket"
check "pard --check-config on the packaged config" pard --check-config -c /etc/pard/pard.conf

section "documentation and completions in the package"
for f in README.md design.md protocol.md; do
	check "/usr/share/doc/pard/$f" sh -c "test -s /usr/share/doc/pard/$f || test -s /usr/share/doc/pard/$f.gz"
done
check "bash completion installed" test -s /usr/share/bash-completion/completions/parctl
check "zsh completion installed" test -s /usr/share/zsh/vendor-completions/_parctl
check "fish completion installed" test -s /usr/share/fish/vendor_completions.d/parctl.fish
check "drop-in directory /etc/pard/pard.conf.d shipped" test -d /etc/pard/pard.conf.d

section "start"
check "systemctl start pard" systemctl start pard.service
check "pard.service active (READY=1 received)" unit_active pard.service
pid=$(main_pid)
echo "MainPID=$pid"
check "pard runs as user pard" test "$(stat -c %U "/proc/$pid")" = pard
status_text=$(systemctl show -p StatusText --value pard.service)
echo "StatusText=$status_text"
check "STATUS= reaches systemd" grep -q workers <<<"$status_text"
shm=$(stat -c '%a %U' /dev/shm/pard 2>&1)
echo "/dev/shm/pard: $shm"
check "/dev/shm/pard exists, mode 600, owned by pard" test "$shm" = "600 pard"
procs=$(wc -l </sys/fs/cgroup/system.slice/pard.service/cgroup.procs)
echo "processes in pard.service: $procs"
check "pard started one worker per CPU" test "$procs" -eq $(($(nproc) + 1))
journalctl -u pard.service -o short-monotonic --no-pager | tail -20
# pard writes <N> prefixes when journald reads its stderr: they must become priorities.
check "journald parsed pard's priority prefixes" \
	wait_for 10 sh -c 'journalctl _SYSTEMD_UNIT=pard.service -p info -o cat | grep -q "ready:" &&
		! journalctl _SYSTEMD_UNIT=pard.service -o cat | grep -q "^<[0-7]>"'

section "access: group pard may submit, others may not"
useradd -M -s /bin/sh -G pard alice
useradd -M -s /bin/sh -G pard carol
useradd -M -s /bin/sh bob
id alice
id bob
expect_rc "member of group pard: parctl submit pi 10000000 --wait" 0 \
	as_user alice parctl submit pi 10000000 --wait
as_user alice parctl --json submit pi 10000000 --seed 1 --wait >/tmp/pi.json
cat /tmp/pi.json
check "result is a pi estimate" grep -q '"estimate": 3.14' /tmp/pi.json
as_user bob parctl submit pi 10000000 --wait 2>/tmp/bob.err
rc=$?
cat /tmp/bob.err
if [ "$rc" -eq 3 ] && grep -q "Permission denied" /tmp/bob.err; then
	pass "non-member refused: permission denied on the socket, exit 3"
else
	fail "non-member refused: permission denied on the socket, exit 3" "exit $rc"
fi
# A tiny job's lines are at info only when every job is logged (log_job_min_duration = 0).
echo "log_job_min_duration = 0;" >/etc/pard/pard.conf.d/40-every-job.conf
check "systemctl reload pard: every job logged" systemctl reload pard.service
id=$(as_user alice parctl submit pi 1000 --seed 3)
echo "alice's job: $id"
as_user alice parctl wait "$id"
expect_rc "another member cannot read alice's job (ERR perm, exit 4)" 4 as_user carol parctl result "$id"
expect_rc "root can read alice's job" 0 parctl result "$id"
# Job lifecycle lines carry journal fields (sd_journal_send under journald).
check "journalctl PARD_JOB=$id: job $id's submitted and done lines" \
	wait_for 10 sh -c "journalctl PARD_JOB=$id -o cat | grep -q 'job $id pi submitted by uid' &&
		journalctl PARD_JOB=$id -o cat | grep -q 'job $id pi done after'"
journalctl PARD_JOB="$id" -o verbose --no-pager | grep -E 'PARD_|MESSAGE='
check "journalctl PARD_KIND=pi PARD_UID=$(id -u alice) finds alice's jobs" \
	sh -c "journalctl PARD_KIND=pi PARD_UID=$(id -u alice) -o cat | grep -q 'job $id pi'"
rm -f /etc/pard/pard.conf.d/40-every-job.conf
check "systemctl reload pard: the default log_job_min_duration again" systemctl reload pard.service
quiet=$(as_user alice parctl submit pi 1000 --seed 4 --wait --json | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
check "a tiny job leaves no line by default (log_job_min_duration = 1000)" \
	sh -c "test -n '$quiet' && ! journalctl PARD_JOB=$quiet -o cat | grep -q ."
# bash completion: commands, and job ids asked from the daemon.
completion() {
	bash -c 'source /usr/share/bash-completion/completions/parctl
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _parctl; echo "${COMPREPLY[*]}"' completion "$@"
}
echo "completion of 'parctl ': $(completion parctl '')"
check "bash completion offers the commands" test "$(completion parctl s)" = "submit status stats"
echo "completion of 'parctl wait ': $(completion parctl wait '')"
check "bash completion offers job ids" grep -qw "$id" <<<"$(completion parctl wait '')"

section "metrics for Prometheus: pard-metrics.socket"
check "pard-metrics.socket is not enabled by the package" test "$(systemctl is-enabled pard-metrics.socket)" = disabled
check "systemctl enable --now pard-metrics.socket" systemctl enable --now pard-metrics.socket
# alice's image stays in the arena until its result expires: a per-uid row the exporter, a
# dynamic user, may export only as a member of pard-monitor (pard.conf's monitor_group).
expect_rc "alice: parctl submit fractal 100x100 --wait" 0 \
	as_user alice parctl submit fractal 100x100 --iterations 5 --wait
curl -sS -D /tmp/metrics.head -H 'Accept: application/openmetrics-text; version=1.0.0' \
	http://127.0.0.1:9591/metrics >/tmp/metrics.txt
cat /tmp/metrics.head
head -20 /tmp/metrics.txt
check "curl http://127.0.0.1:9591/metrics: OpenMetrics" grep -qi '^Content-Type: application/openmetrics-text' /tmp/metrics.head
check "the scrape ends with # EOF" test "$(tail -1 /tmp/metrics.txt)" = "# EOF"
check "the scrape counts alice's pi jobs" grep -Eq '^pard_jobs_submitted_total\{kind="pi"\} [1-9]' /tmp/metrics.txt
check "the scrape shows the workers" grep -Eq '^pard_workers_wanted [1-9]' /tmp/metrics.txt
grep '^pard_user_' /tmp/metrics.txt
check "the scrape shows alice's row (the exporter is in pard-monitor): 40000 arena bytes held" \
	grep -q "^pard_user_arena_bytes{uid=\"$(id -u alice)\",state=\"held\"} 40000\$" /tmp/metrics.txt
check "curl http://127.0.0.1:9591/other: 404" \
	test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9591/other)" = 404
systemd-analyze security --no-pager pard-metrics@scrape.service >/tmp/metrics-security.out 2>&1
note "systemd-analyze security pard-metrics@.service: $(grep 'Overall exposure level' /tmp/metrics-security.out)"
check "systemctl disable --now pard-metrics.socket" systemctl disable --now pard-metrics.socket

section "python3-pard"
pydeb=$(ls /ci/python3-pard_*.deb 2>/dev/null)
if [ -n "$pydeb" ]; then
	check "dpkg -i $(basename "$pydeb")" dpkg -i "$pydeb"
	cat >/tmp/client.py <<'PY'
import sys
import pard
try:
    with pard.Client(timeout=30) as client:
        r = client.submit("pi", 1000000, seed=1).result(timeout=60)
        print("estimate", r.estimate, "seed", r.seed)
except pard.UnreachableError as e:
    print("unreachable:", e)
    sys.exit(3)
PY
	as_user alice python3 /tmp/client.py >/tmp/py.out 2>&1
	cat /tmp/py.out
	check "member of group pard: pard.Client().submit('pi', ...).result()" grep -q "^estimate 3\.1[0-9]* seed 1$" /tmp/py.out
	as_user bob python3 /tmp/client.py >/tmp/py-bob.out 2>&1
	rc=$?
	cat /tmp/py-bob.out
	if [ "$rc" -eq 3 ] && grep -q "Permission denied" /tmp/py-bob.out; then
		pass "non-member: pard.UnreachableError, permission denied on the socket"
	else
		fail "non-member: pard.UnreachableError, permission denied on the socket" "exit $rc"
	fi
	check "dpkg --purge python3-pard" dpkg --purge python3-pard
else
	note "SKIP python3-pard: no python3-pard .deb next to the pard one"
fi

section "reload while a job runs"
# Several seconds whatever the number of CPUs, so the reload surely happens while it runs.
trials=$(($(nproc) * 20000000000))
[ "$trials" -gt 1000000000000 ] && trials=1000000000000
long=$(as_user alice parctl submit pi "$trials" --seed 7)
echo "long job $long: pi $trials"
check "long job is running before the reload" \
	wait_for 20 sh -c "timeout 10 parctl status $long | grep -q 'state *running'"
pid_before=$(main_pid)
cp /etc/pard/pard.conf /tmp/pard.conf.orig
workers_new=$(($(nproc) + 1))
echo "workers = $workers_new;" >>/etc/pard/pard.conf
check "systemctl reload pard" systemctl reload pard.service
check "pard.service active after the reload" wait_for 10 unit_active pard.service
check "same main process after the reload" test "$(main_pid)" = "$pid_before"
check "reload applied workers = $workers_new" \
	wait_for 10 sh -c "timeout 10 parctl stats | grep -Eq '^running +$workers_new\$'"
check "pard logged the reload" \
	wait_for 10 sh -c 'journalctl _SYSTEMD_UNIT=pard.service -o cat | grep -q "configuration reloaded"'
{ cat /tmp/pard.conf.orig; echo "workers = 0;"; } >/etc/pard/pard.conf
expect_rc "reload of a bad config fails" 1 systemctl reload pard.service
systemctl status pard.service --no-pager | head -15
check "pard keeps running after a rejected reload" unit_active pard.service
check "same main process after the rejected reload" test "$(main_pid)" = "$pid_before"
cp /tmp/pard.conf.orig /etc/pard/pard.conf
# A drop-in survives upgrades of the conffile; reload reads it after pard.conf.
echo "workers = $((workers_new + 1));" >/etc/pard/pard.conf.d/50-local.conf
check "systemctl reload pard with a drop-in" systemctl reload pard.service
check "reload applied the drop-in's workers = $((workers_new + 1))" \
	wait_for 10 sh -c "timeout 10 parctl stats | grep -Eq '^running +$((workers_new + 1))\$'"
echo "workers = 0;" >/etc/pard/pard.conf.d/60-bad.conf
expect_rc "pard --check-config names a bad drop-in" 1 sh -c \
	'pard --check-config -c /etc/pard/pard.conf 2>&1 | tee /dev/stderr | grep -q "pard.conf.d/60-bad.conf:1:" && exit 1'
rm -f /etc/pard/pard.conf.d/50-local.conf /etc/pard/pard.conf.d/60-bad.conf
check "systemctl reload pard without drop-ins" systemctl reload pard.service
as_user alice parctl status "$long"
as_user alice parctl wait "$long" >/tmp/long.out
rc=$?
cat /tmp/long.out
if [ "$rc" -eq 0 ] && grep -Eq '^state +done$' /tmp/long.out; then
	pass "parctl wait $long after the reload: state done"
else
	fail "parctl wait $long after the reload: state done" "exit $rc"
fi

section "stop, socket activation, stop"
check "systemctl stop pard" systemctl stop pard.service
check "pard.service inactive" unit_inactive pard.service
check "no /dev/shm/pard after stop" test ! -e /dev/shm/pard
check "no process of user pard after stop" sh -c '! pgrep -u pard'
check "socket file kept while pard.socket listens" test -S /run/pard/pard.sock
expect_rc "a connection starts pard again (socket activation)" 0 as_user alice parctl stats
check "pard.service active again" unit_active pard.service
check "systemctl restart pard" systemctl restart pard.service
expect_rc "parctl after a restart" 0 as_user alice parctl submit pi 1000000 --wait
check "systemctl stop pard (again)" systemctl stop pard.service
check "no /dev/shm/pard after the second stop" test ! -e /dev/shm/pard
journalctl -u pard.service -o short-monotonic --no-pager | tail -40
# Warnings and errors logged by pard's processes, less the expected one from the bad reload.
journalctl _SYSTEMD_UNIT=pard.service -p warning -o cat --no-pager | grep -v "workers must be" >/tmp/warnings
cat /tmp/warnings
check "no other warnings or errors from pard in the journal" test ! -s /tmp/warnings

section "crash: Restart=on-failure"
check "start pard" systemctl start pard.service
pid_before=$(main_pid)
# MainPID is 0 when the start failed: kill -KILL 0 would end this script and the whole check.
[ "$pid_before" -gt 0 ] && kill -KILL "$pid_before"
check "systemd restarts pard after SIGKILL" \
	wait_for 20 sh -c "[ \"\$(systemctl show -p MainPID --value pard.service)\" != 0 ] &&
		[ \"\$(systemctl show -p MainPID --value pard.service)\" != $pid_before ] &&
		[ \"\$(systemctl is-active pard.service)\" = active ]"
expect_rc "parctl after the restart" 0 as_user alice parctl submit pi 1000000 --wait
journalctl _SYSTEMD_UNIT=pard.service -o short-monotonic --no-pager | tail -8
check "systemctl stop pard" systemctl stop pard.service
check "no /dev/shm/pard after stop" test ! -e /dev/shm/pard

section "durable jobs: a crash, an upgrade and a restart keep running jobs, a stop does not"
# Each event below starts pard again: clear systemd's start-rate limit (5 starts in 10 s) that the
# sections above used up, so the events test pard, not the limit.
fresh_limit() { systemctl reset-failed pard.service pard.socket; systemctl start pard.socket; }
fresh_limit
check "start pard" systemctl start pard.service
# durable EVENT CMD...: a job of several seconds and a parctl wait for it; CMD runs while it runs;
# then the wait must print the job's result (exit 0) and the job id must not be given again.
durable() {
	local event=$1
	shift
	local job
	fresh_limit
	job=$(as_user alice parctl submit pi "$trials" --seed 13)
	echo "job $job: pi $trials, then $event"
	if ! wait_for 20 sh -c "timeout 10 parctl status $job | grep -q 'state *running'"; then
		fail "$event: job $job running first"
		return
	fi
	as_user alice parctl wait "$job" >/tmp/durable.out 2>/tmp/durable.err &
	local waiter=$!
	sleep 1 # the wait is connected and registered
	"$@"
	wait "$waiter"
	local rc=$?
	cat /tmp/durable.out /tmp/durable.err
	systemctl show -p NFileDescriptorStore -p MainPID pard.service
	if [ "$rc" -eq 0 ] && grep -Eq '^state +done$' /tmp/durable.out && grep -q reconnected /tmp/durable.err; then
		pass "$event: the waiting parctl reconnected and printed job $job's result"
	else
		fail "$event: the waiting parctl reconnected and printed job $job's result" "exit $rc"
	fi
	local next
	next=$(as_user alice parctl submit pi 1000)
	check "$event: job ids go on ($next > $job)" test "$next" -gt "$job"
}
crash() {
	local pid
	pid=$(main_pid)
	kill -KILL "$pid"
	wait_for 20 sh -c "[ \"\$(systemctl show -p MainPID --value pard.service)\" != 0 ] &&
		[ \"\$(systemctl show -p MainPID --value pard.service)\" != $pid ] &&
		[ \"\$(systemctl is-active pard.service)\" = active ]"
}
durable "kill -9 of the main pid" crash
check "the restarted pard adopted the segment" \
	sh -c 'journalctl _SYSTEMD_UNIT=pard.service -o cat | grep -q "adopted segment /pard"'
durable "a second kill -9" crash
# The package installed again is an upgrade to the same version: its postinst sends SIGUSR2.
durable "dpkg -i of the package again (upgrade)" dpkg -i "$deb"
# systemctl restart: SIGTERM, then a start; systemd keeps the descriptor store across it, so the
# job goes on like after an upgrade.
durable "systemctl restart" systemctl restart pard.service
check "systemctl restart: pard left its jobs in the descriptor store" \
	sh -c 'journalctl _SYSTEMD_UNIT=pard.service -o cat | grep -q "kept in systemd.s descriptor store"'
# systemctl stop: the same SIGTERM, but systemd frees the store: the job ends, its waiter is told,
# and no segment is left (pard.socket stays: the waiter's reconnection may start a fresh pard,
# which must not know the job).
fresh_limit
job=$(as_user alice parctl submit pi "$trials" --seed 14)
wait_for 20 sh -c "timeout 10 parctl status $job | grep -q 'state *running'"
ino=$(stat -c %i /dev/shm/pard)
as_user alice parctl wait "$job" >/tmp/durable.out 2>/tmp/durable.err &
waiter=$!
sleep 1
check "systemctl stop pard with job $job running" systemctl stop pard.service
check "systemctl stop: the stopped pard's segment is gone from /dev/shm" \
	test "$(stat -c %i /dev/shm/pard 2>/dev/null)" != "$ino"
wait "$waiter"
rc=$?
cat /tmp/durable.out /tmp/durable.err
if [ "$rc" -ne 0 ] && grep -q "did not finish" /tmp/durable.err; then
	pass "systemctl stop: the waiting parctl is told job $job did not finish (exit $rc)"
else
	fail "systemctl stop: the waiting parctl is told job $job did not finish" "exit $rc"
fi
journalctl -u pard.service -o short-monotonic --no-pager | grep -Ev "debug|submitted" | tail -40
check "systemctl stop pard" systemctl stop pard.service
check "no /dev/shm/pard after a stop for good" test ! -e /dev/shm/pard
fresh_limit
check "systemctl start pard after the stop" systemctl start pard.service
if as_user alice parctl status "$job" >/tmp/status.out 2>&1; then
	fail "after a stop and a start, job $job is gone" "$(cat /tmp/status.out)"
else
	cat /tmp/status.out
	check "after a stop and a start, job $job is gone" grep -q "no job $job" /tmp/status.out
fi
next=$(as_user alice parctl submit pi 1000)
check "after a stop, job ids still go on ($next > $job): an id a client holds is never given again" \
	test "$next" -gt "$job"
check "systemctl stop pard (after the durable jobs)" systemctl stop pard.service

section "systemd-analyze"
systemd-analyze verify /lib/systemd/system/pard.service /lib/systemd/system/pard.socket \
	/lib/systemd/system/pard-metrics.socket /lib/systemd/system/pard-metrics@.service >/tmp/verify.out 2>&1
rc=$?
cat /tmp/verify.out
if [ "$rc" -eq 0 ] && [ ! -s /tmp/verify.out ]; then
	pass "systemd-analyze verify: no output"
else
	fail "systemd-analyze verify: no output" "exit $rc, $(wc -l </tmp/verify.out) lines"
fi
systemd-analyze security --no-pager pard.service >/tmp/security.out 2>&1
cat /tmp/security.out
score_line=$(grep 'Overall exposure level' /tmp/security.out)
note "systemd-analyze security: ${score_line:-no score}"
score=$(sed -n 's/.*pard.service: \([0-9.]*\).*/\1/p' <<<"$score_line")
# A regression guard: the units as shipped score 1.x ("OK"); loosening them fails here.
check "security exposure at most 2.0" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'

section "purge"
check "dpkg --purge pard" dpkg --purge pard
check "units removed" test ! -e /lib/systemd/system/pard.service -a ! -e /lib/systemd/system/pard.socket
check "/etc/pard removed" test ! -e /etc/pard
check "pard.socket no longer active" unit_inactive pard.socket
check "socket file removed" test ! -e /run/pard/pard.sock
check "no enablement symlinks left" sh -c '! find /etc/systemd -name "pard.*" | grep -q .'
check "dpkg --purge libpard-dev libpard0" dpkg --purge libpard-dev libpard0
check "libpard removed" sh -c '! ls /usr/lib/*/libpard.so* /usr/include/pard 2>/dev/null | grep -q .'

section "warnings in this boot's journal (for the record)"
journalctl -b -p warning --no-pager -o short-monotonic

# The closing line CI reads: "<word>: N passed, N failed".
note "container: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
