#!/usr/bin/env bash
# Install everything a presto-on-aws node runs: Java, Trino, the node agent, their systemd units,
# limits and the CloudWatch agent's file list.
#
# Packer runs this once on the build instance (root "/"). Tests run the very same script with
# --root pointing at an empty directory, so what they check is what the AMI gets. With a root
# other than "/", steps that change the running system (dnf, the Java check on the installed
# Corretto) are skipped and said so; every file, user, directory and unit link lands under the
# root. Nothing here is cluster-specific: the bootstrap unit reads the cluster's settings at boot.
#
# Usage:
#   install.sh --trino-version N --wheelhouse DIR [--root DIR] [--trino-tarball FILE]
#              [--trino-sha256 HEX] [--trino-url URL] [--java-version N] [--java-home DIR]
#              [--python PATH] [--agent-version TEXT]
#   install.sh --plan --trino-version N     # print what would be installed, change nothing
set -euo pipefail
umask 022 # what lands in the image is readable by the services' users unless made private below

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FILES_DIR="$SCRIPT_DIR/files"
CHECKSUMS="$SCRIPT_DIR/trino-sha256.txt"

# Paths on the node; the same values as node_agent/contract.py (tests compare them).
TRINO_HOME=/opt/trino
TRINO_DATA=/var/lib/trino
AGENT_HOME=/opt/presto-on-aws
AGENT_STATE_DIR=/var/lib/presto-on-aws
AGENT_LOG_DIR=/var/log/presto-on-aws
CONFIG_DIR=/etc/presto-on-aws
UNIT_DIR=/usr/lib/systemd/system
# The bootstrap unit pulls in the others (see its Wants=), so it is the only one enabled.
UNITS=(presto-on-aws-bootstrap.service trino.service node-agent-querylog.service
  node-agent-metrics.service node-agent-lifecycle.service)
ENABLED_UNITS=(presto-on-aws-bootstrap.service)

MAVEN_CENTRAL=https://repo1.maven.org/maven2
GITHUB_RELEASES=https://github.com/trinodb/trino/releases/download
OLDEST_SUPPORTED=330
FIRST_GO_LAUNCHER=466   # earlier releases start through bin/launcher.py (Python)

ROOT=/
TRINO_VERSION=""
TRINO_TARBALL=""
TRINO_SHA256=""
TRINO_URL=""
JAVA_VERSION=""
JAVA_HOME_DIR=""
PYTHON=python3.11
WHEELHOUSE=""
AGENT_VERSION=unknown
PLAN_ONLY=false

log() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit 0
}

# --- what the Trino version decides ----------------------------------------------------------
# The oldest Java each release starts on (TrinoSystemRequirements; the "Require JDK" entries of the
# release notes: 390 -> 17, 436 -> 21.0.1, 447 -> 22, 464 -> 23, 476 -> 24.0.1, 479 -> 25). The
# same table is node_agent/trino/versions.py java_minimum; tests/image check that the two agree.
java_minimum() {
  local v=$1
  if ((v <= 389)); then echo 11
  elif ((v <= 435)); then echo 17
  elif ((v <= 446)); then echo 21
  elif ((v <= 463)); then echo 22
  elif ((v <= 475)); then echo 23
  elif ((v <= 478)); then echo 24
  else echo 25
  fi
}

# The Corretto we install: the major Trino itself requires (and tests with), except 476-478: their
# 24.0.1+ is short-term, so they get 25 (the integration suite runs Trino 476 on Java 25 too).
java_choice() {
  local v=$1 minimum
  minimum=$(java_minimum "$v")
  if ((minimum == 24)); then echo 25; else echo "$minimum"; fi
}

# Releases up to 350 are PrestoSQL (io.prestosql:presto-server), later ones Trino.
server_name() {
  if (($1 <= 350)); then echo presto-server; else echo trino-server; fi
}

# Maven Central has the server up to 476; from 477 on Trino publishes it on GitHub only.
download_url() {
  local v=$1 name
  name=$(server_name "$v")
  if ((v <= 350)); then echo "$MAVEN_CENTRAL/io/prestosql/$name/$v/$name-$v.tar.gz"
  elif ((v <= 476)); then echo "$MAVEN_CENTRAL/io/trino/$name/$v/$name-$v.tar.gz"
  else echo "$GITHUB_RELEASES/$v/$name-$v.tar.gz"
  fi
}

pinned_sha256() {
  awk -v v="$1" '$1 == v { print $2 }' "$CHECKSUMS"
}

# --- arguments -------------------------------------------------------------------------------
parse_args() {
  while (($#)); do
    case "$1" in
      --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
      --trino-version) TRINO_VERSION=${2:?--trino-version needs a number}; shift 2 ;;
      --trino-tarball) TRINO_TARBALL=${2:?--trino-tarball needs a file}; shift 2 ;;
      --trino-sha256) TRINO_SHA256=${2:?--trino-sha256 needs a hex digest}; shift 2 ;;
      --trino-url) TRINO_URL=${2:?--trino-url needs a URL}; shift 2 ;;
      --java-version) JAVA_VERSION=${2:?--java-version needs a number}; shift 2 ;;
      --java-home) JAVA_HOME_DIR=${2:?--java-home needs a directory}; shift 2 ;;
      --python) PYTHON=${2:?--python needs an interpreter}; shift 2 ;;
      --wheelhouse) WHEELHOUSE=${2:?--wheelhouse needs a directory}; shift 2 ;;
      --agent-version) AGENT_VERSION=${2:?--agent-version needs a value}; shift 2 ;;
      --plan) PLAN_ONLY=true; shift ;;
      -h | --help) usage ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
  done

  [[ -n "$TRINO_VERSION" ]] || die "--trino-version is required (for example 476)"
  [[ "$TRINO_VERSION" =~ ^[0-9]+$ ]] ||
    die "--trino-version '$TRINO_VERSION' is not a release number (for example 476)"
  ((TRINO_VERSION >= OLDEST_SUPPORTED)) ||
    die "--trino-version $TRINO_VERSION is older than $OLDEST_SUPPORTED, the oldest release this image supports"

  local minimum
  minimum=$(java_minimum "$TRINO_VERSION")
  if [[ -z "$JAVA_VERSION" ]]; then
    JAVA_VERSION=$(java_choice "$TRINO_VERSION")
  elif ! [[ "$JAVA_VERSION" =~ ^[0-9]+$ ]] || ((JAVA_VERSION < minimum)); then
    die "--java-version '$JAVA_VERSION' cannot run Trino $TRINO_VERSION: it needs Java $minimum or newer"
  fi
  JAVA_HOME_GIVEN=$JAVA_HOME_DIR
  JAVA_HOME_DIR=${JAVA_HOME_DIR:-/usr/lib/jvm/java-$JAVA_VERSION-amazon-corretto}

  if [[ -z "$TRINO_SHA256" ]]; then
    TRINO_SHA256=$(pinned_sha256 "$TRINO_VERSION")
  fi
  TRINO_SHA256=${TRINO_SHA256,,}
  if [[ -n "$TRINO_SHA256" && ! "$TRINO_SHA256" =~ ^[0-9a-f]{64}$ ]]; then
    die "--trino-sha256 '$TRINO_SHA256' is not a SHA-256 digest (64 hex digits)"
  fi
  TRINO_URL=${TRINO_URL:-$(download_url "$TRINO_VERSION")}

  if [[ "$PLAN_ONLY" == true ]]; then
    return
  fi
  [[ -n "$TRINO_SHA256" ]] ||
    die "no SHA-256 known for Trino $TRINO_VERSION: pass --trino-sha256 (make: TRINO_SHA256=...) or add it to $(basename "$CHECKSUMS")"
  [[ -n "$WHEELHOUSE" ]] || die "--wheelhouse is required (the node agent's wheels; 'make -C image wheelhouse')"
  [[ -d "$WHEELHOUSE" ]] || die "--wheelhouse '$WHEELHOUSE' is not a directory"
  if [[ -n "$TRINO_TARBALL" && ! -f "$TRINO_TARBALL" ]]; then
    die "--trino-tarball '$TRINO_TARBALL' is not a file"
  fi
  ((EUID == 0)) || die "must run as root: it creates the trino user and sets file ownership"
  [[ -d "$ROOT" ]] || die "--root '$ROOT' is not a directory"
  ROOT=$(cd "$ROOT" && pwd)
}

print_plan() {
  cat <<EOF
trino_version=$TRINO_VERSION
server_name=$(server_name "$TRINO_VERSION")
download_url=$TRINO_URL
sha256=$TRINO_SHA256
java_version=$JAVA_VERSION
java_minimum=$(java_minimum "$TRINO_VERSION")
java_home=$JAVA_HOME_DIR
launcher=$(if ((TRINO_VERSION >= FIRST_GO_LAUNCHER)); then echo go; else echo python; fi)
EOF
}

# A path on the node, under the install root.
in_root() {
  if [[ "$ROOT" == / ]]; then echo "$1"; else echo "$ROOT$1"; fi
}

# --- the running system (only when installing into "/") --------------------------------------
install_packages() {
  if [[ "$ROOT" != / ]]; then
    log "root is $ROOT: not installing OS packages (Corretto $JAVA_VERSION, Python 3.11, CloudWatch agent, rsyslog, logrotate)"
    return
  fi
  log "installing OS packages"
  dnf install -y -q \
    "java-$JAVA_VERSION-amazon-corretto-headless" \
    python3.11 python3.11-pip \
    amazon-cloudwatch-agent \
    rsyslog logrotate \
    tar gzip
  # contract.LogFile.SYSLOG is /var/log/messages; Amazon Linux 2023 keeps only the journal unless
  # rsyslog runs.
  systemctl enable rsyslog.service
  dnf clean all -q
}

# The launcher checks Java itself, but only at boot; a wrong JDK should fail the image build.
check_java() {
  local java minimum major found
  if [[ "$ROOT" == / && -z "$JAVA_HOME_GIVEN" && ! -x "$JAVA_HOME_DIR/bin/java" ]]; then
    # The package's own directory, should its alternatives link be named differently.
    found=$(rpm -ql "java-$JAVA_VERSION-amazon-corretto-headless" 2>/dev/null | grep -m1 '/bin/java$' || true)
    [[ -n "$found" ]] && JAVA_HOME_DIR=${found%/bin/java}
  fi
  java="$JAVA_HOME_DIR/bin/java"
  if [[ ! -x "$java" ]]; then
    if [[ "$ROOT" != / ]]; then
      log "no Java at $JAVA_HOME_DIR on this machine: recording it for the node without checking"
      return
    fi
    die "Java $JAVA_VERSION is not at $JAVA_HOME_DIR after installing java-$JAVA_VERSION-amazon-corretto-headless"
  fi
  major=$("$java" -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/^ *java.specification.version =/ { print $2 }')
  minimum=$(java_minimum "$TRINO_VERSION")
  [[ "$major" =~ ^[0-9]+$ ]] || die "could not read the Java version of $java"
  ((major >= minimum)) || die "$java is Java $major; Trino $TRINO_VERSION needs Java $minimum or newer"
  log "Java $major at $JAVA_HOME_DIR"
}

# --- users, directories, limits --------------------------------------------------------------
id_of() { # name, passwd|group -> numeric id from the root's database
  awk -F: -v n="$1" '$1 == n { print $3 }' "$(in_root "/etc/$2")"
}

create_users() {
  install -D -m 0644 "$FILES_DIR/sysusers.conf" "$(in_root /usr/lib/sysusers.d/presto-on-aws.conf)"
  mkdir -p "$(in_root /etc)"
  systemd-sysusers --root="$ROOT" "$(in_root /usr/lib/sysusers.d/presto-on-aws.conf)"
  TRINO_UID=$(id_of trino passwd)
  TRINO_GID=$(id_of trino group)
  [[ -n "$TRINO_UID" && -n "$TRINO_GID" ]] || die "systemd-sysusers did not create the trino user under $ROOT"
}

make_directories() {
  install -d -m 0755 -o 0 -g 0 "$(in_root /opt)" "$(in_root "$AGENT_HOME")" "$(in_root "$AGENT_HOME/share")" \
    "$(in_root "$CONFIG_DIR")"
  # Trino's data dir (node.data-dir, var/log with server.log and http-request.log): its own only.
  install -d -m 0750 -o "$TRINO_UID" -g "$TRINO_GID" "$(in_root "$TRINO_DATA")"
  # The query-log spool holds query text: root only.
  install -d -m 0700 -o 0 -g 0 "$(in_root "$AGENT_STATE_DIR")"
  install -d -m 0750 -o 0 -g 0 "$(in_root "$AGENT_LOG_DIR")"
  # /etc/trino is deliberately absent: the bootstrap renders it (a symlink to a complete render).
}

install_system_config() {
  install -D -m 0644 "$FILES_DIR/limits.conf" "$(in_root /etc/security/limits.d/90-trino.conf)"
  install -D -m 0644 "$FILES_DIR/logrotate.conf" "$(in_root /etc/logrotate.d/presto-on-aws)"
}

# --- Trino -----------------------------------------------------------------------------------
fetch_tarball() {
  if [[ -n "$TRINO_TARBALL" ]]; then
    echo "$TRINO_TARBALL"
    return
  fi
  local target
  target="$WORK_DIR/$(server_name "$TRINO_VERSION")-$TRINO_VERSION.tar.gz"
  log "downloading $TRINO_URL"
  curl --fail --location --silent --show-error --retry 5 --retry-delay 5 -o "$target" "$TRINO_URL" ||
    die "could not download Trino $TRINO_VERSION from $TRINO_URL"
  echo "$target"
}

install_trino() {
  local name dir tarball actual
  name="$(server_name "$TRINO_VERSION")-$TRINO_VERSION"
  dir=$(in_root "/opt/$name")
  if [[ -f "$dir/.sha256" && "$(cat "$dir/.sha256")" == "$TRINO_SHA256" ]]; then
    log "$name already installed at /opt/$name (same SHA-256)"
  else
    tarball=$(fetch_tarball)
    log "verifying $tarball"
    actual=$(sha256sum "$tarball" | awk '{ print $1 }')
    [[ "$actual" == "$TRINO_SHA256" ]] ||
      die "$tarball has SHA-256 $actual, expected $TRINO_SHA256 for Trino $TRINO_VERSION: refusing to install it"
    log "extracting $name"
    local staging
    staging=$(mktemp -d "$(in_root /opt)/.$name.XXXXXX")
    # Owned by root and not writable by trino: the server cannot change its own code.
    tar -xzf "$tarball" -C "$staging" --no-same-owner
    [[ -x "$staging/$name/bin/launcher" ]] || die "$tarball has no $name/bin/launcher"
    printf '%s\n' "$TRINO_SHA256" >"$staging/$name/.sha256"
    chown -R 0:0 "$staging/$name"
    chmod -R go-w "$staging/$name"
    rm -rf "$dir"
    mv "$staging/$name" "$dir"
    rmdir "$staging"
  fi
  ln -sfn "$name" "$(in_root "$TRINO_HOME")"
}

# --- node agent ------------------------------------------------------------------------------
install_agent() {
  local venv wheels
  venv=$(in_root "$AGENT_HOME/venv")
  shopt -s nullglob
  wheels=("$WHEELHOUSE"/*.whl)
  shopt -u nullglob
  ((${#wheels[@]})) || die "no wheels in --wheelhouse '$WHEELHOUSE' (build it with 'make -C image wheelhouse')"
  # The same wheels and interpreter as last time: nothing to do (a re-run of the build step).
  local stamp
  stamp=$({ "$PYTHON" -c 'import sys; print(sys.version)' && sha256sum "${wheels[@]}" | awk '{ print $1 }'; } |
    sha256sum | awk '{ print $1 }')
  if [[ -x "$venv/bin/node-agent" && -f "$venv/.wheelhouse" && "$(cat "$venv/.wheelhouse")" == "$stamp" ]]; then
    log "node agent already installed from the same wheels"
    return
  fi
  log "installing the node agent into $AGENT_HOME/venv (${#wheels[@]} wheels)"
  "$PYTHON" -m venv --clear "$venv"
  # Exactly the wheels given, nothing from an index: the wheelhouse is the lock file.
  "$venv/bin/python" -m pip install --quiet --no-index --no-deps --no-cache-dir \
    --disable-pip-version-check "${wheels[@]}"
  "$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
    die "the wheelhouse is incomplete: $("$venv/bin/python" -m pip check 2>&1 | head -3)"
  [[ -x "$venv/bin/node-agent" ]] || die "the wheelhouse did not provide the node-agent command"
  printf '%s\n' "$stamp" >"$venv/.wheelhouse"
}

# --- systemd, CloudWatch, build facts --------------------------------------------------------
install_units() {
  local unit
  for unit in "${UNITS[@]}"; do
    install -D -m 0644 "$FILES_DIR/systemd/$unit" "$(in_root "$UNIT_DIR/$unit")"
  done
  if ((TRINO_VERSION < FIRST_GO_LAUNCHER)); then
    # Before 466 bin/launcher is a Python script that finds Java on PATH (set in java.env).
    install -D -m 0644 "$FILES_DIR/systemd/trino-python-launcher.conf" \
      "$(in_root "$UNIT_DIR/trino.service.d/python-launcher.conf")"
  fi
  systemctl --root="$ROOT" enable "${ENABLED_UNITS[@]}"
}

write_config() {
  # Read by trino.service (EnvironmentFile). The launcher takes Java from JAVA_HOME (466+) or
  # from PATH (the Python launcher before 466).
  cat >"$(in_root "$CONFIG_DIR/java.env")" <<EOF
JAVA_HOME=$JAVA_HOME_DIR
PATH=$JAVA_HOME_DIR/bin:/usr/local/bin:/usr/bin:/bin
EOF
  chmod 0644 "$(in_root "$CONFIG_DIR/java.env")"
  # What this image is, for the bootstrap (it refuses settings for another Trino version) and
  # for people on the node.
  cat >"$(in_root "$CONFIG_DIR/image.env")" <<EOF
TRINO_VERSION=$TRINO_VERSION
JAVA_VERSION=$JAVA_VERSION
AGENT_VERSION=$AGENT_VERSION
EOF
  chmod 0644 "$(in_root "$CONFIG_DIR/image.env")"
  # The file list for the CloudWatch agent; the bootstrap fills in the cluster's log groups.
  install -m 0644 "$FILES_DIR/cloudwatch-agent.json" "$(in_root "$AGENT_HOME/share/cloudwatch-agent.json")"
}

main() {
  parse_args "$@"
  if [[ "$PLAN_ONLY" == true ]]; then
    print_plan
    return
  fi
  # Not /tmp: on Amazon Linux 2023 that is a RAM disk, and the server tarball is about 1 GB.
  WORK_DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/presto-on-aws-install.XXXXXX")
  trap 'rm -rf "$WORK_DIR"' EXIT
  log "Trino $TRINO_VERSION, Java $JAVA_VERSION, agent $AGENT_VERSION, root $ROOT"
  install_packages
  check_java
  create_users
  make_directories
  install_system_config
  install_trino
  install_agent
  install_units
  write_config
  log "done"
}

main "$@"
