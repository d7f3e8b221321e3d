#!/usr/bin/env bash
# nmail against Postfix on the same machine in the same run (A-B-A), with
# the shared benchmark kit's machine probe beside each figure.
#   bash tools/bench/smtp-vs-postfix.sh [COUNT] [CONC]
# Needs ../shared/bench (it installs and starts Postfix on 127.0.0.1:2525
# delivering to ~benchmail/Maildir) and builds the load generator in
# release mode. Prints one JSON line per run.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
kit="$here/../shared/bench"
count=${1:-10000}
conc=${2:-8}
corpus="$here/../shared/corpus/mail"
[ -d "$corpus" ] || corpus="$here/tests/corpus"

bash "$kit/postfix-baseline/setup.sh" >/dev/null
. "$kit/postfix-baseline/env.sh"
home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
pf_pid=$(cat /var/spool/postfix/pid/master.pid | tr -d ' ')

cd "$here"
cargo bench --bench smtp-load --no-run >/dev/null 2>&1
probe() { echo "probe: $(python3 "$kit/quiet.py" --max 30) $(python3 "$kit/fsync-limit/probe.py" /var/tmp/nmail-probe 1)"; }
run_nmail() {
  probe
  cargo bench --bench smtp-load -q -- --nmail --rcpt bench@bench.test --count "$count" --conc "$conc" \
    --corpus "$corpus" --label nmail
}
run_postfix() {
  probe
  cargo bench --bench smtp-load -q -- --target "127.0.0.1:$SMTP_PORT" --rcpt "$BENCH_USER@$BENCH_DOMAIN" \
    --maildir "$home/Maildir" --pid "$pf_pid" --count "$count" --conc "$conc" --corpus "$corpus" --label postfix
  # Empty the maildir between runs so each starts alike.
  find "$home/Maildir/new" "$home/Maildir/cur" -type f -delete 2>/dev/null || true
}
run_nmail
run_postfix
run_nmail
bash "$kit/postfix-baseline/stop.sh" >/dev/null 2>&1 || true
