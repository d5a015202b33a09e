# Shared by the load scripts: where the binaries are, and how to wait for a server.
# Run the scripts from the repository root after
#   cargo build --release -p ssekit-loadtest -p ssekit-cli
BIN=${BIN:-target/release}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
LOGS=$(mktemp -d)
# Whatever the scripts start goes in PIDS, so that it is stopped even when a step fails.
PIDS=""
trap 'kill $PIDS 2>/dev/null; rm -rf "$LOGS"' EXIT

# wait_url LOG: waits for a "listening on URL" line in LOG and prints the URL.
wait_url() {
  for _ in $(seq 1 100); do grep -q listening "$1" 2>/dev/null && break; sleep 0.1; done
  grep -o 'http://[^ ]*' "$1" | head -1
}

# start_nginx UPSTREAM_HOST_PORT: starts nginx (one worker, proxy_buffering off) in front of
# the upstream; sets NGINX_URL, NGINX_MASTER and NGINX_WORKER.
start_nginx() {
  local lo port dir tries
  # A port below the ephemeral range, where the thousands of test connections take theirs;
  # another try if it is taken anyway.
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  dir=$(mktemp -d)
  for tries in 1 2 3 4 5; do
    port=$((10000 + RANDOM % (lo - 10000)))
    ss -Htln "sport = :$port" 2>/dev/null | grep -q . || break
  done
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 19000; }
http {
  access_log off;
  upstream up { server $1; keepalive 64; }
  server {
    listen 127.0.0.1:$port backlog=1024;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
    }
  }
}
CONF
  if ! nginx -c "$dir/nginx.conf" -p "$dir"; then
    echo "start_nginx: nginx did not start (see above)" >&2
    exit 1
  fi
  sleep 0.5
  NGINX_MASTER=$(cat "$dir/nginx.pid")
  NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)
  NGINX_URL=http://127.0.0.1:$port
}
