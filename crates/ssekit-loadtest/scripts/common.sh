# Shared by the load scripts: where the binaries are, and how to wait for a server.
# Run the scripts from the repository root after
#   cargo build --release -p ssekit-loadtest -p ssekit-cli
BIN=${BIN:-target/release}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

# wait_url LOG: waits for a "listening on URL" line in LOG and prints the URL.
wait_url() {
  for _ in $(seq 1 100); do grep -q listening "$1" 2>/dev/null && break; sleep 0.1; done
  grep -o 'http://[^ ]*' "$1" | head -1
}

# start_nginx UPSTREAM_HOST_PORT: starts nginx (one worker, proxy_buffering off) in front of
# the upstream; sets NGINX_URL, NGINX_MASTER and NGINX_WORKER.
start_nginx() {
  local port=$((20000 + RANDOM % 20000)) dir
  dir=$(mktemp -d)
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
  nginx -c "$dir/nginx.conf" -p "$dir"
  sleep 0.5
  NGINX_MASTER=$(cat "$dir/nginx.pid")
  NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)
  NGINX_URL=http://127.0.0.1:$port
}
