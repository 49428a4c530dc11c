#!/usr/bin/env bash
# Starts the local Redis and Postgres when they do not answer (the commands this machine kind
# documents), and installs what the tests drive when it is missing: Debian's Chromium (browser
# tests), kubectl (manifest tests), redis-server (private servers for the fault tests) and nginx
# (the load balancer of start:distributed; without it the runner falls back to its Node balancer).
# With REQUIRE_SERVICES=1 (CI) a service that still does not answer is an error; without it, a
# warning (the tests that need it then skip and say why).
set -uo pipefail

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
for _ in $(seq 1 30); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break
  sleep 1
done
missing=0
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "ensure-services: Redis does not answer on 127.0.0.1:6379"; missing=1; }
pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 || { echo "ensure-services: Postgres does not answer on 127.0.0.1:5432"; missing=1; }
if [ "$missing" = 1 ] && [ "${REQUIRE_SERVICES:-}" = "1" ]; then exit 1; fi
[ "$missing" = 0 ] && echo "ensure-services: Redis and Postgres answer"

# Browser tests drive Debian's Chromium (never a downloaded browser).
if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure-services: installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "ensure-services: could not install chromium"
  else
    echo "ensure-services: not root; install chromium yourself (apt-get install chromium)"
  fi
fi
# The Kubernetes manifest tests render each overlay with `kubectl kustomize` (Debian's kubectl when none is installed).
if ! command -v kubectl >/dev/null 2>&1; then
  echo "ensure-services: installing Debian's kubernetes-client (kubectl) for the manifest tests"
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null) || echo "ensure-services: could not install kubectl"
  else
    echo "ensure-services: not root; install kubectl yourself (apt-get install kubernetes-client)"
  fi
fi
# The chaos run and the Redis outage tests start private redis-servers (never the shared one).
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "ensure-services: installing Debian's redis-server for the private servers of the fault tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) || echo "ensure-services: could not install redis-server"
fi
# start:distributed runs nginx in front of the gateways (its own child process, config in a temp
# folder; the system's nginx service is not used); the load balancer tests run against it too.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [ "$(id -u)" = "0" ]; then
  echo "ensure-services: installing Debian's nginx for the load balancer of start:distributed"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) || echo "ensure-services: could not install nginx"
fi
exit 0
