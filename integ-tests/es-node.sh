#!/usr/bin/env bash
# Manage one throwaway Elasticsearch node (the integ-test distribution zip) with the
# deep-hash plugin installed, for the integration tests under integ-tests/.
#
#   es-node.sh setup   fetch + unpack the distribution (once), (re)install the plugin,
#                      write config/elasticsearch.yml, reset data/ and logs/
#   es-node.sh start   start the node in the background on a free loopback port,
#                      wait for _cluster/health, print its URL
#   es-node.sh stop    stop the node (TERM, then KILL); never fails if it is not running
#   es-node.sh url     print the URL of the running node
#   es-node.sh status  say whether the node is running
#   es-node.sh log     print the tail of the node's log
#   es-node.sh home    print the node's ES_HOME (its config/ is $ES_PATH_CONF)
#   es-node.sh plugin-zip  print the plugin zip that setup installs (PLUGIN_ZIP, or the one for ES_VERSION)
#   es-node.sh java-home   print the JDK the node runs on (ES_JAVA_HOME, or the default for ES_VERSION)
#
# Environment (all optional):
#   ES_VERSION     distribution version (default 8.19.21; 9.1.10 for the plugin built with -Pes9)
#   PLUGIN_ZIP     plugin zip to install (default: the one Maven builds for ES_VERSION,
#                  <repo>/target/deep-hash-0.1.0-SNAPSHOT-es8.19.21.zip or
#                  <repo>/target/es9/deep-hash-0.1.0-SNAPSHOT-es9.1.10.zip)
#   SKIP_PLUGIN=1  set up a bare node without the plugin (to check the harness itself)
#   KEEP_DATA=1    setup keeps data/ and snapshots/ (the upgrade test: a 9.x node set up where an 8.x one ran;
#                  the data path is shared by every ES_VERSION of one ES_NODE_NAME)
#   ES_JAVA_HOME   JDK for the node (default: $JAVA_HOME, else /usr/lib/jvm/java-17-openjdk-amd64 for
#                  8.x and /usr/lib/jvm/temurin-25-jdk-amd64 for 9.x, which needs JDK 21 or newer)
#   ES_HEAP        heap size for -Xms/-Xmx (default 512m); ES_JAVA_OPTS, if set, replaces it
#   ES_NODE_NAME   a name, so that several nodes can live side by side (the tests' node, the
#                  quick start's "demo", the benchmark's "bench"); default "it"
#   ES_NODE_DIR    where the node lives (default: <repo>/integ-tests/.node-<name>, or
#                  ${TMPDIR:-/tmp}/deep-hash-node-<name>-<hash> when the repo is not readable by
#                  the user the node runs as)
#   ES_RUN_USER    user to run the node as when this script runs as root (default nobody)
#   ES_START_TIMEOUT  seconds to wait for the node to answer (default 120)
#   ES_EXTRA_CONFIG   lines appended to config/elasticsearch.yml at every start (e.g. "deep_hash.text.cache_size: 0")
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd -P)"
ES_VERSION="${ES_VERSION:-8.19.21}"
ES_NODE_NAME="${ES_NODE_NAME:-it}"
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
PLUGIN_NAME="deep-hash"
ES_MAJOR="${ES_VERSION%%.*}"
if [ "$ES_MAJOR" -ge 9 ]; then
  PLUGIN_ZIP="${PLUGIN_ZIP:-$REPO_ROOT/target/es9/deep-hash-0.1.0-SNAPSHOT-es$ES_VERSION.zip}"
else
  PLUGIN_ZIP="${PLUGIN_ZIP:-$REPO_ROOT/target/deep-hash-0.1.0-SNAPSHOT-es$ES_VERSION.zip}"
fi
ES_RUN_USER="${ES_RUN_USER:-nobody}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-120}"
ES_HEAP="${ES_HEAP:-512m}"

log() { printf '[es-node] %s\n' "$*" >&2; }
die() { printf '[es-node] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the user the node runs as (a no-op wrapper when not root).
as_node_user() {
  if is_root; then
    local group
    group="$(id -gn "$ES_RUN_USER")"
    setpriv --reuid="$ES_RUN_USER" --regid="$group" --clear-groups -- "$@"
  else
    "$@"
  fi
}

# Can the node user read and traverse $1?
node_user_can_read() {
  as_node_user test -r "$1" -a -x "$1" 2>/dev/null
}

resolve_node_dir() {
  if [ -n "${ES_NODE_DIR:-}" ]; then
    NODE_DIR="$ES_NODE_DIR"
  elif node_user_can_read "$SCRIPT_DIR"; then
    NODE_DIR="$SCRIPT_DIR/.node-$ES_NODE_NAME"
  else
    local tag
    tag="$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)"
    NODE_DIR="${TMPDIR:-/tmp}/deep-hash-node-$ES_NODE_NAME-$tag"
  fi
  ES_HOME="$NODE_DIR/elasticsearch-$ES_VERSION"
  DATA_DIR="$NODE_DIR/data"
  REPO_DIR="$NODE_DIR/snapshots"
  LOGS_DIR="$NODE_DIR/logs"
  RUN_DIR="$NODE_DIR/run"
  PID_FILE="$RUN_DIR/es.pid"
  URL_FILE="$RUN_DIR/url"
  STDOUT_FILE="$LOGS_DIR/stdout.log"
}

# The feature release of the JDK at $1 (17, 21, 25...), 0 where it cannot be told.
java_feature() {
  local release="$1/release" v
  v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release" 2>/dev/null | head -n 1)"
  echo "${v:-0}"
}

resolve_java() {
  local fallback=/usr/lib/jvm/java-17-openjdk-amd64 java_home="${JAVA_HOME:-}"
  if [ "$ES_MAJOR" -ge 9 ]; then
    fallback=/usr/lib/jvm/temurin-25-jdk-amd64
    # Elasticsearch 9 needs JDK 21+: a JAVA_HOME of 17 (this machine's default) is passed over.
    if [ -n "$java_home" ] && [ "$(java_feature "$java_home")" -lt 21 ]; then java_home=""; fi
  fi
  ES_JAVA_HOME="${ES_JAVA_HOME:-${java_home:-$fallback}}"
  [ -x "$ES_JAVA_HOME/bin/java" ] || die "no java at ES_JAVA_HOME=$ES_JAVA_HOME (set ES_JAVA_HOME to a JDK 17+, 21+ for Elasticsearch 9)"
  export ES_JAVA_HOME
}

read_pid() {
  [ -s "$PID_FILE" ] && tr -dc '0-9' <"$PID_FILE" || true
}

# Is $1 a live Elasticsearch process (not some other process that reused a stale pid)?
pid_alive() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && ps -o args= -p "$pid" 2>/dev/null | grep -q 'org\.elasticsearch'
}

node_running() {
  local pid
  pid="$(read_pid)"
  pid_alive "$pid"
}

# A free TCP port on loopback (bind to port 0 and let the kernel pick).
free_port() {
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
    fi
  done
  # Fallback: random ports until one is not listening.
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  die "could not find a free port"
}

node_log_file() {
  # The server log is named after the cluster name.
  ls -t "$LOGS_DIR"/*.log 2>/dev/null | grep -v -e '/gc.log' -e '/stdout.log' -e '_deprecation' \
    -e '_index_' -e '_audit' | head -n 1 || true
}

print_log_tail() {
  local f
  f="$(node_log_file)"
  if [ -n "$f" ]; then
    log "---- tail of $f ----"
    tail -n "${1:-60}" "$f" >&2 || true
  fi
  if [ -s "$STDOUT_FILE" ]; then
    log "---- tail of $STDOUT_FILE ----"
    tail -n 30 "$STDOUT_FILE" >&2 || true
  fi
}

write_config() {
  local http_port="$1" transport_port="$2"
  cat >"$ES_HOME/config/elasticsearch.yml" <<EOF
# Written by integ-tests/es-node.sh; rewritten at every start.
cluster.name: deep-hash-it
node.name: deep-hash-it-0
discovery.type: single-node
network.host: 127.0.0.1
http.port: $http_port
transport.port: $transport_port
path.data: $DATA_DIR
path.logs: $LOGS_DIR
path.repo: $REPO_DIR
xpack.security.enabled: false
# Tests must not trip over a full-ish disk of the build machine.
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
  if [ -n "${ES_EXTRA_CONFIG:-}" ]; then
    printf '%s\n' "$ES_EXTRA_CONFIG" >>"$ES_HOME/config/elasticsearch.yml"
  fi
}

fetch_distribution() {
  local marker="$ES_HOME/.deep-hash-dist"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$ES_ARTIFACT" ] && [ -x "$ES_HOME/bin/elasticsearch" ]; then
    log "distribution already unpacked at $ES_HOME"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn is needed to fetch $ES_ARTIFACT"
  local dist="$NODE_DIR/dist"
  mkdir -p "$dist"
  log "fetching $ES_ARTIFACT through Maven"
  mvn -q -B -Dstyle.color=never "$DEPENDENCY_PLUGIN:copy" -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$dist" \
      -Dmdep.overWriteReleases=false >&2 \
    || die "could not fetch $ES_ARTIFACT (is Maven Central reachable, or is it in ~/.m2?)"
  local zip="$dist/elasticsearch-$ES_VERSION.zip"
  [ -f "$zip" ] || die "Maven did not leave $zip"
  rm -rf "$ES_HOME" "$NODE_DIR/unpack.tmp"
  mkdir -p "$NODE_DIR/unpack.tmp"
  log "unpacking $(basename "$zip")"
  unzip -q "$zip" -d "$NODE_DIR/unpack.tmp"
  mv "$NODE_DIR/unpack.tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rmdir "$NODE_DIR/unpack.tmp"
  rm -f "$zip"
  rmdir "$dist" 2>/dev/null || true
  printf '%s\n' "$ES_ARTIFACT" >"$marker"
}

install_plugin() {
  if "$ES_HOME/bin/elasticsearch-plugin" list 2>/dev/null | grep -qx "$PLUGIN_NAME"; then
    log "removing previously installed $PLUGIN_NAME"
    "$ES_HOME/bin/elasticsearch-plugin" remove --purge "$PLUGIN_NAME" >&2
  fi
  rm -rf "${ES_HOME:?}/plugins/$PLUGIN_NAME" "${ES_HOME:?}/plugins/.installing-"*
  if [ "${SKIP_PLUGIN:-0}" = 1 ]; then
    log "SKIP_PLUGIN=1: bare node, no plugin installed"
    return 0
  fi
  [ -f "$PLUGIN_ZIP" ] || die "plugin zip not found: $PLUGIN_ZIP
  build it first:  $REPO_ROOT/scripts/build-plugin.sh $ES_VERSION
  or point PLUGIN_ZIP at a zip, or use SKIP_PLUGIN=1 for a bare node"
  local zip_abs
  zip_abs="$(cd "$(dirname "$PLUGIN_ZIP")" && pwd -P)/$(basename "$PLUGIN_ZIP")"
  log "installing $zip_abs"
  "$ES_HOME/bin/elasticsearch-plugin" install --batch "file://$zip_abs" >&2 \
    || die "elasticsearch-plugin install failed for $zip_abs"
}

cmd_setup() {
  resolve_node_dir
  resolve_java
  if node_running; then
    die "the node is running (pid $(read_pid)); run '$0 stop' first"
  fi
  if [ "${SKIP_PLUGIN:-0}" != 1 ] && [ ! -f "$PLUGIN_ZIP" ]; then
    die "plugin zip not found: $PLUGIN_ZIP
  build it first:  $REPO_ROOT/scripts/build-plugin.sh $ES_VERSION
  or point PLUGIN_ZIP at a zip, or use SKIP_PLUGIN=1 for a bare node"
  fi
  mkdir -p "$NODE_DIR"
  fetch_distribution
  install_plugin
  if [ "${KEEP_DATA:-0}" = 1 ]; then
    log "KEEP_DATA=1: data/ and snapshots/ kept (an upgrade: another release's node on the same data path)"
    rm -rf "$LOGS_DIR" "$RUN_DIR"
  else
    rm -rf "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$REPO_DIR"
  fi
  mkdir -p "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$REPO_DIR"
  write_config 9200 9300   # placeholders; start picks free ports
  if is_root; then
    local group
    group="$(id -gn "$ES_RUN_USER")"
    # The node writes its data, logs, pid file and (on first start) the keystore in config/.
    chown -R "$ES_RUN_USER:$group" "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$REPO_DIR" "$ES_HOME/config"
    chmod -R u+rwX,go+rX "$ES_HOME"
    node_user_can_read "$ES_HOME/bin" || die "$ES_RUN_USER cannot read $ES_HOME; set ES_NODE_DIR to a readable place"
    as_node_user test -w "$DATA_DIR" -a -w "$LOGS_DIR" -a -w "$RUN_DIR" \
      || die "$ES_RUN_USER cannot write under $NODE_DIR"
  fi
  log "node home: $ES_HOME"
  log "plugins: $("$ES_HOME/bin/elasticsearch-plugin" list 2>/dev/null | tr '\n' ' ')"
}

cmd_start() {
  resolve_node_dir
  resolve_java
  [ -x "$ES_HOME/bin/elasticsearch" ] || die "no node at $ES_HOME; run '$0 setup' first"
  if node_running; then
    log "already running (pid $(read_pid))"
    cat "$URL_FILE"
    return 0
  fi
  mkdir -p "$RUN_DIR" "$LOGS_DIR" "$DATA_DIR" "$REPO_DIR"
  rm -f "$PID_FILE" "$URL_FILE"
  local http_port transport_port
  http_port="$(free_port)"
  transport_port="$(free_port)"
  while [ "$transport_port" = "$http_port" ]; do transport_port="$(free_port)"; done
  write_config "$http_port" "$transport_port"
  if is_root; then
    local group
    group="$(id -gn "$ES_RUN_USER")"
    chown -R "$ES_RUN_USER:$group" "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$REPO_DIR" "$ES_HOME/config"
  fi
  local java_opts="${ES_JAVA_OPTS:--Xms$ES_HEAP -Xmx$ES_HEAP}"
  local url="http://127.0.0.1:$http_port"
  log "starting node ($ES_HOME, java $ES_JAVA_HOME, $java_opts) on $url"
  # -d: the launcher returns once the server is up (or failed); the JVM's relative gc.log and
  # hs_err files land in the working directory, so start from the logs directory.
  local rc=0
  (
    cd "$LOGS_DIR"
    as_node_user env ES_JAVA_HOME="$ES_JAVA_HOME" ES_JAVA_OPTS="$java_opts" \
      ES_PATH_CONF="$ES_HOME/config" \
      "$ES_HOME/bin/elasticsearch" -d -p "$PID_FILE" </dev/null >"$STDOUT_FILE" 2>&1
  ) || rc=$?
  if [ "$rc" -ne 0 ]; then
    log "the launcher exited with status $rc"
    print_log_tail
    cmd_stop_quiet
    die "node did not start"
  fi
  local deadline=$(( SECONDS + ES_START_TIMEOUT )) health=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    if health="$(curl -fsS --max-time 5 "$url/_cluster/health?wait_for_status=yellow&timeout=5s" 2>/dev/null)"; then
      break
    fi
    health=""
    if [ -s "$PID_FILE" ] && ! node_running; then
      break
    fi
    sleep 1
  done
  if [ -z "$health" ]; then
    log "node did not answer on $url/_cluster/health within ${ES_START_TIMEOUT}s"
    print_log_tail
    cmd_stop_quiet
    die "node did not start"
  fi
  printf '%s\n' "$url" >"$URL_FILE"
  log "node up (pid $(read_pid)): $health"
  echo "$url"
}

cmd_stop_quiet() { cmd_stop >/dev/null 2>&1 || true; }

cmd_stop() {
  resolve_node_dir
  local pid
  pid="$(read_pid)"
  if ! pid_alive "$pid"; then
    log "not running"
    rm -f "$PID_FILE" "$URL_FILE"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    pid_alive "$pid" || break
    sleep 0.5
  done
  if pid_alive "$pid"; then
    log "still alive after 30 s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do
      pid_alive "$pid" || break
      sleep 0.5
    done
  fi
  rm -f "$PID_FILE" "$URL_FILE"
  log "stopped"
  return 0
}

cmd_url() {
  resolve_node_dir
  node_running && [ -s "$URL_FILE" ] || die "the node is not running"
  cat "$URL_FILE"
}

cmd_status() {
  resolve_node_dir
  if node_running; then
    echo "running pid=$(read_pid) url=$(cat "$URL_FILE" 2>/dev/null || echo '?') home=$ES_HOME"
  else
    echo "stopped home=$ES_HOME"
    return 1
  fi
}

case "${1:-}" in
  setup)  cmd_setup ;;
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  url)    cmd_url ;;
  home)   resolve_node_dir; echo "$ES_HOME" ;;
  plugin-zip) echo "$PLUGIN_ZIP" ;;
  java-home) resolve_java; echo "$ES_JAVA_HOME" ;;
  status) cmd_status ;;
  log)    resolve_node_dir; print_log_tail 200 ;;
  *)
    echo "usage: $0 {setup|start|stop|url|home|status|log|plugin-zip|java-home}" >&2
    exit 2
    ;;
esac
