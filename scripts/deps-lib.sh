# Helpers the steps of scripts/deps.d source: quiet commands whose output goes to a log shown
# only on failure, and progress lines for long steps.

DEPS_LOG_DIR=${DEPS_LOG_DIR:-bin/deps-logs}
mkdir -p "$DEPS_LOG_DIR"
export DEBIAN_FRONTEND=noninteractive

# quietly NAME CMD...: runs CMD with its output in $DEPS_LOG_DIR/NAME.log, printing a line
# every 30 s while it runs and, when it fails, the log's last 40 lines.
quietly() {
	local name=$1 log start pid rc
	shift
	log="$DEPS_LOG_DIR/$name.log"
	start=$SECONDS
	"$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "deps:   … $name still running ($((SECONDS - start)) s; log: $log)"
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "deps: $name failed (exit $rc); the end of $log:" >&2
		tail -n 40 "$log" >&2
		return "$rc"
	fi
	echo "deps:   $name done in $((SECONDS - start)) s"
}

# as_root CMD...: runs CMD as root, through sudo when needed.
as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo DEBIAN_FRONTEND=noninteractive "$@"
	else
		echo "deps: need root (or sudo) to run: $*" >&2
		return 1
	fi
}

# apt_install PKG...: installs Debian packages quietly, updating the lists first once per run
# of scripts/deps.sh (which sets DEPS_APT_STAMP; a step run alone updates them itself). An
# update costs 5–15 s, most of it reading the lists.
apt_install() {
	local stamp=${DEPS_APT_STAMP:-}
	if [ -z "$stamp" ] || [ ! -e "$stamp" ]; then
		quietly apt-update as_root apt-get update -qq
		[ -z "$stamp" ] || : >"$stamp"
	fi
	quietly "apt-install-$1" as_root apt-get install -y -qq --no-install-recommends "$@"
}
