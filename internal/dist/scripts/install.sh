#!/bin/sh
# install.sh: install Go with the gostrap of this tree (a gostrap bundle or fleet mirror).
#
#   sh /media/usb/go-bundle/install.sh 1.25             # a tree on disk: no network at all
#   eval "$(sh /media/usb/go-bundle/install.sh 1.25)"   # ... and put Go on PATH in this shell
#   curl -fsSL http://mirror.lan/go/install.sh | GOSTRAP_TREE=http://mirror.lan/go sh -s -- 1.25
#   wget -qO- http://mirror.lan/go/install.sh | GOSTRAP_TREE=http://mirror.lan/go sh -s -- 1.25
#
# A piped script cannot know where it came from: name the tree with GOSTRAP_TREE (or --tree).
# The script picks gostrap/<os>-<arch>/gostrap for this machine, checks its sha256 against
# gostrap/SHA256SUMS (with sha256sum, shasum, sha256 or openssl), and runs
#   gostrap install --offline --bundle TREE ARGS...                              (tree on disk)
#   gostrap install --official URL/ --mirror URL/ --goproxy URL ARGS...          (tree over http)
# then prints the line that puts Go on PATH, or under GitHub Actions appends to $GITHUB_PATH.
# gostrap verifies Go itself (checksum database, official sha256); the check of gostrap against
# SHA256SUMS finds a damaged copy, and is only as trustworthy as the tree it came from.
#
# Options (all other arguments go to 'gostrap install': a version, --dir DIR, ...):
#   --tree DIR|URL    the tree (default: GOSTRAP_TREE, else the directory of this script)
#   --no-verify       run gostrap unchecked (for a machine without a sha256 tool)
#   GOSTRAP_PLATFORM=os/arch  use that platform's gostrap (default: from uname)
# Exit status: gostrap's own, or 1 for an error of this script, 4 for a checksum mismatch.

me=install.sh
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { code=$1; shift; printf '%s: error: %s\n' "$me" "$*" >&2; exit "$code"; }

# shq quotes a word for sh.
shq() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

tree=${GOSTRAP_TREE-}
verify=1
# Take this script's options out of the arguments and keep the others, in order.
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	case $a in
	--no-verify | -no-verify) verify=0 ;;
	--tree | -tree)
		[ "$n" -gt 0 ] || die 2 "--tree needs a directory or URL"
		tree=$1
		shift
		n=$((n - 1))
		;;
	--tree=* | -tree=*) tree=${a#*=} ;;
	-h | --help | -help)
		if [ -f "$0" ]; then
			sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
		else
			echo "usage: sh install.sh [--tree DIR|URL] [--no-verify] [VERSION] [gostrap install flags]"
		fi
		exit 0
		;;
	*) set -- "$@" "$a" ;;
	esac
done

# Where the tree is: named, else where this script is (not when it is piped: $0 is then the shell).
if [ -z "$tree" ] && [ -f "$0" ]; then
	case $0 in
	*/*) tree=${0%/*} ;;
	*) tree=. ;;
	esac
fi
[ -n "$tree" ] || die 1 "which tree? a piped install.sh cannot tell where it came from: run it as 'curl -fsSL URL/install.sh | GOSTRAP_TREE=URL sh -s -- VERSION', or run the script from the tree"

base=
case $tree in
http://* | https://*)
	base=$tree
	while :; do
		case $base in
		*/) base=${base%/} ;;
		*) break ;;
		esac
	done
	;;
file://*) tree=${tree#file://} ;;
esac
if [ -z "$base" ]; then
	[ -d "$tree" ] || die 1 "$tree: no such directory"
	tree=$(cd "$tree" && pwd -P) || die 1 "$tree: cannot enter it"
	[ -f "$tree/gostrap/SHA256SUMS" ] || [ "$verify" = 0 ] ||
		die 1 "$tree/gostrap/SHA256SUMS: not found: this is not a gostrap tree carrying gostrap (for a tree on a web server, run 'curl -fsSL URL/install.sh | GOSTRAP_TREE=URL sh -s -- VERSION')"
fi

# Tools, before anything is fetched.
fetch=
if [ -n "$base" ]; then
	if command -v curl >/dev/null 2>&1; then
		fetch=curl
	elif command -v wget >/dev/null 2>&1; then
		fetch=wget
	else
		die 1 "neither curl nor wget is installed to fetch gostrap from $base: install one, or copy the tree to this machine and run its install.sh"
	fi
fi
sumtool=
if [ "$verify" = 1 ]; then
	for t in sha256sum shasum sha256 openssl; do
		if command -v "$t" >/dev/null 2>&1; then
			sumtool=$t
			break
		fi
	done
	[ -n "$sumtool" ] || die 1 "no sha256 tool (sha256sum, shasum, sha256 or openssl) to check gostrap with: install one, or pass --no-verify to run it unchecked"
else
	say "warning: --no-verify: gostrap will run without its sha256 being checked"
fi

tmp=
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gostrap-install.XXXXXX" 2>/dev/null) || {
	tmp=${TMPDIR:-/tmp}/gostrap-install.$$
	(umask 077 && mkdir "$tmp") || die 1 "cannot make a temporary directory in ${TMPDIR:-/tmp}: set TMPDIR"
}

# get copies a tree file (path relative to the tree) to $2; why says what went wrong.
get() {
	if [ -n "$base" ]; then
		case $fetch in
		curl) why=$(curl -fsSL --retry 2 -o "$2" "$base/$1" 2>&1) ;;
		wget) why=$(wget -q -O "$2" "$base/$1" 2>&1) || {
			why="wget exit status $?${why:+: $why}"
			return 1
		} ;;
		esac
	else
		why=$(cp "$tree/$1" "$2" 2>&1)
	fi
}
where=${base:-$tree}

# The platform, and its binary's line in SHA256SUMS.
if [ -n "${GOSTRAP_PLATFORM-}" ]; then
	os=${GOSTRAP_PLATFORM%%/*}
	arch=${GOSTRAP_PLATFORM#*/}
else
	s=$(uname -s 2>/dev/null)
	m=$(uname -m 2>/dev/null)
	case $s in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	FreeBSD) os=freebsd ;;
	MINGW* | MSYS* | CYGWIN*) die 1 "unsupported platform: $s: on Windows, run install.ps1 in PowerShell" ;;
	*) os=$(printf '%s' "$s" | tr '[:upper:]' '[:lower:]') ;;
	esac
	case $m in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64 | aarch64_be) arch=arm64 ;;
	i386 | i486 | i586 | i686 | x86 | i86pc) arch=386 ;;
	armv6* | armv7* | armv8l | arm) arch=arm ;;
	*) arch=$m ;;
	esac
	# An x86_64 shell under Rosetta on Apple silicon: the arm64 gostrap is the native one.
	if [ "$os/$arch" = darwin/amd64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null)" = 1 ]; then
		arch=arm64
	fi
fi
name=$os-$arch/gostrap

want=
have=
if get gostrap/SHA256SUMS "$tmp/SHA256SUMS"; then
	cr=$(printf '\r')
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%"$cr"}
		h=${line%% *}
		f=${line#"$h"}
		f=${f# }
		f=${f# }
		f=${f#\*}
		if [ "$f" = "$name" ]; then
			want=$(printf '%s' "$h" | tr 'A-F' 'a-f')
		fi
		case $f in
		*/gostrap | */gostrap.exe) have="$have ${f%/*}" ;;
		esac
	done <"$tmp/SHA256SUMS"
	[ -n "$want" ] || die 1 "unsupported platform: $os/$arch: this tree has gostrap for:${have:- nothing}"
elif [ "$verify" = 1 ]; then
	die 1 "$where/gostrap/SHA256SUMS: cannot read it ($why): this is not a gostrap tree carrying gostrap, or it is unreachable"
fi

bin=$tmp/gostrap
get "gostrap/$name" "$bin" || die 1 "$where/gostrap/$name: cannot read it ($why)"
if [ "$verify" = 1 ]; then
	case $sumtool in
	sha256sum) got=$(sha256sum <"$bin") ;;
	shasum) got=$(shasum -a 256 <"$bin") ;;
	sha256) got=$(sha256 -q <"$bin") ;; # FreeBSD
	openssl) got=$(openssl dgst -sha256 <"$bin") && got=${got##* } ;;
	esac || die 1 "$sumtool failed on gostrap/$name"
	got=$(printf '%s' "${got%% *}" | tr 'A-F' 'a-f')
	[ "$got" = "$want" ] ||
		die 4 "checksum mismatch: gostrap/$name has sha256 $got, gostrap/SHA256SUMS says $want: the tree is damaged or was tampered with; nothing was run or installed"
fi
chmod 755 "$bin" || die 1 "cannot make $bin executable"

if [ -n "$base" ]; then
	set -- --official "$base/" --mirror "$base/" --goproxy "$base" "$@"
else
	set -- --offline --bundle "$tree" "$@"
fi
if [ -n "${GOSTRAP_INSTALL_DRY_RUN-}" ]; then
	# A debugging aid (and the tests'): show the command instead of running it.
	cmd="gostrap/$name install"
	for a in "$@"; do cmd="$cmd $(shq "$a")"; done
	printf '%s\n' "$cmd"
	exit 0
fi

json=0
for a in "$@"; do
	case $a in --json | -json | --json=true | -json=true) json=1 ;; esac
done
"$bin" install --json "$@" >"$tmp/report.json"
st=$?
[ "$st" = 0 ] || exit "$st"
[ "$json" = 0 ] || cat "$tmp/report.json"

field() { sed -n "s/^  \"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" "$tmp/report.json" | sed -e 's/\\"/"/g' -e 's/\\\\/\\/g'; }
version=$(field version)
goroot=$(field goroot)
[ -n "$goroot" ] || die 1 "gostrap installed Go but its report names no GOROOT: run 'gostrap env' to find it"
say "Go $version is in $goroot"
if [ -n "${GITHUB_PATH-}" ]; then
	printf '%s\n' "$goroot/bin" >>"$GITHUB_PATH" || die 1 "cannot append to GITHUB_PATH ($GITHUB_PATH)"
	say "added $goroot/bin to GITHUB_PATH for the next steps"
else
	say "to use it, run (or add to your shell profile):"
	# shellcheck disable=SC2016 # $PATH is for the shell that runs the printed line
	printf 'export PATH=%s:"$PATH"\n' "$(shq "$goroot/bin")"
fi
