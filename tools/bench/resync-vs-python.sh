#!/usr/bin/env bash
# Full resync of a 100,000-message maildir from an empty index (SQLite, then
# MariaDB), an unchanged-tree resync, and Python's `email` header parse of
# the same tree, back to back (A-B-A) with the machine probe beside each.
#   bash tools/bench/resync-vs-python.sh [COUNT]
# Needs ../shared/bench/resync (the generator and the Python anchor); builds
# nmail in release mode; uses the MariaDB of NMAIL_TEST_MYSQL_URL (default
# mysql://root@127.0.0.1:3306) with a scratch database it drops afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
kit="$here/../shared/bench"
count=${1:-100000}
work=${WORK:-/var/tmp/nmail-resync-bench}
cd "$here"
cargo build --release --bin nmail --bin nmail-resync -q
bin="${CARGO_TARGET_DIR:-$here/target}/release"

if [ ! -d "$work/data" ]; then
  mkdir -p "$work"
  printf 'bench-pass\n' > "$work/pw"
  "$bin/nmail" init --data "$work/data" --domain bench.test --password-file "$work/pw" >/dev/null
  "$bin/nmail" user add u@bench.test --data "$work/data" --password-file "$work/pw"
  python3 "$kit/resync/gen_maildir.py" "$work/data/domains/bench.test/users/u/Maildir" --count "$count" >/dev/null
fi
md="$work/data/domains/bench.test/users/u/Maildir"
probe() { echo "probe: $(python3 "$kit/quiet.py" --max 30) $(python3 "$kit/fsync-limit/probe.py" "$work/probe" 1)"; }
timed() { /usr/bin/time -f "  wall %e s, cpu %U+%S s" "$@" 2>&1 | grep -v '^$'; }
fresh_sqlite() { rm -f "$work/data"/index.sqlite* "$md/nmail-uidlist"; }

base=${NMAIL_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}
db="nmail_bench_$$"
server=${base%/*}; [ "$server" = "mysql:" ] && server=$base
server=$(echo "$base" | sed -E 's#^(mysql://[^/]+).*#\1#')
mysql_url="$server/$db"
mysql_cli() { mariadb -h 127.0.0.1 -u root -e "$1"; }
trap 'mysql_cli "DROP DATABASE IF EXISTS $db" || true' EXIT

echo "== nmail full resync, SQLite (A)"; probe; fresh_sqlite; timed "$bin/nmail-resync" --data "$work/data" --quiet
echo "== Python email header parse (B)"; probe
python3 "$kit/resync/walk_parse.py" "$md" | tail -1 | grep -oE '"read_parse_s": [0-9.]+, "read_parse_files_per_s": [0-9]+'
echo "== nmail full resync, SQLite (A)"; probe; fresh_sqlite; timed "$bin/nmail-resync" --data "$work/data" --quiet
echo "== nmail unchanged-tree resync, SQLite"; probe; timed "$bin/nmail-resync" --data "$work/data" --quiet
timed "$bin/nmail-resync" --data "$work/data" --quiet
echo "== nmail full resync, MariaDB"; probe; mysql_cli "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
rm -f "$md/nmail-uidlist"
NMAIL_INDEX_URL="$mysql_url" timed "$bin/nmail-resync" --data "$work/data" --quiet
echo "== nmail unchanged-tree resync, MariaDB"
NMAIL_INDEX_URL="$mysql_url" timed "$bin/nmail-resync" --data "$work/data" --quiet
