# Sourced by scripts/pipeline and scripts/bench-signing: start Debian's docker-registry on 127.0.0.1 (a free port)
# with its storage under $1, set REGISTRY=127.0.0.1:PORT and REGISTRY_PID, and stop it (by that pid) on exit.
start_registry() {
  local dir=$1 port
  mkdir -p "$dir/storage"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$dir/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$port
YML
  /usr/bin/docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  REGISTRY_PID=$!
  REGISTRY=127.0.0.1:$port
  trap 'kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://$REGISTRY/v2/')" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "docker-registry did not start:" >&2; cat "$dir/registry.log" >&2; return 1
}
