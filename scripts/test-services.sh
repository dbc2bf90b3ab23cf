#!/usr/bin/env bash
# Make sure what the test suite needs is installed and running: PostgreSQL, Redis, Chromium, CJK fonts.
# As root on Debian it installs missing packages and starts PostgreSQL and Redis; elsewhere it only checks.
# It writes instance/test-services.env, which `make test` loads before running pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p instance
env_file=instance/test-services.env
: > "$env_file"

is_root() { [ "$(id -u)" = 0 ]; }
missing=()
for pkg in postgresql redis-server chromium fonts-noto-cjk; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if is_root && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} …"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${missing[*]} (run 'sudo apt-get install ${missing[*]}');" \
         "the tests that need them will be skipped (and fail under CI=true)." >&2
  fi
fi

[ -x /usr/bin/chromium ] && echo "CHROMIUM_PATH=/usr/bin/chromium" >> "$env_file"

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  echo "TEST_POSTGRES_URL=$TEST_POSTGRES_URL" >> "$env_file"
elif is_root && command -v pg_lsclusters >/dev/null; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster "$version" main start 2>/dev/null || true
  port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
  for _ in $(seq 1 30); do
    su postgres -c "pg_isready -q -p $port" && break
    sleep 0.5
  done
  su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_roles WHERE rolname='merchant_test'\"" | grep -q 1 || \
    su postgres -c "psql -q -p $port -c \"CREATE ROLE merchant_test LOGIN PASSWORD 'merchant_test' CREATEDB\""
  # Dropping a test database WITH (FORCE) must be able to stop an autovacuum worker that is in it.
  su postgres -c "psql -q -p $port -c 'GRANT pg_signal_backend TO merchant_test'" >/dev/null 2>&1 || true
  su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_database WHERE datname='merchant_test'\"" | grep -q 1 || \
    su postgres -c "createdb -p $port -O merchant_test merchant_test"
  echo "TEST_POSTGRES_URL=postgresql+psycopg://merchant_test:merchant_test@127.0.0.1:$port/merchant_test" >> "$env_file"
fi

# Redis: the shared store of login-throttling counters (as in production). Tests use keys of their own.
if [ -n "${TEST_REDIS_URL:-}" ]; then
  echo "TEST_REDIS_URL=$TEST_REDIS_URL" >> "$env_file"
elif command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  redis_port=""
  for port in 6379 6380 6381 6382; do
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
      redis_port=$port; break
    fi
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then  # nothing listens here: start one
      redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --save "" --appendonly no \
        --logfile "$PWD/instance/test-redis.log" --dir /tmp >/dev/null
      for _ in $(seq 1 30); do
        [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && { redis_port=$port; break; }
        sleep 0.2
      done
      break
    fi
  done
  if [ -n "$redis_port" ]; then echo "TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0" >> "$env_file"; fi
fi
echo "Test services: $(tr '\n' ' ' < "$env_file")"
