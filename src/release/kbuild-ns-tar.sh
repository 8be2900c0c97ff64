#!/bin/sh
# kbuild-ns-tar: the tar of release builds (kbuild-ns-release(1)), bound
# into the build sandbox as /run/kbuild-ns/bin/tar and named by TAR, which
# upstream's kube::build::ensure_tar takes as it is.
#
# When it creates an archive it adds what makes the archive the same every
# time: members sorted by name, every mtime the source date
# (SOURCE_DATE_EPOCH), owners 0:0 by number and without names, and for
# the pax format header names without process ids and no access or change
# times; in the C locale.  Then it runs the build image's own GNU tar.
# Anything else (extract, list) goes through untouched.
#
# The options are appended, never inserted: the first argument may be an
# old-style bundle ("czf OUT", "c", "x") whose f takes the next word, so
# an option put after it would become the archive's name.  GNU tar takes
# options after the operands.  Only a "--" (after which everything is an
# operand) needs them in front of it.
set -u

self=$(readlink -f "$0" 2>/dev/null || echo "$0")
real=
for d in /usr/bin /bin /usr/local/bin /usr/sbin /sbin; do
	if [ -x "$d/tar" ] && [ "$(readlink -f "$d/tar" 2>/dev/null || echo "$d/tar")" != "$self" ]; then
		real=$d/tar
		break
	fi
done
if [ -z "$real" ]; then
	echo "kbuild-ns-tar: no tar in the build image (/usr/bin/tar, /bin/tar)" >&2
	exit 127
fi

create=false
case ${1-} in
-*) ;;
*c*) create=true ;;   # an old-style bundle: czf, cf, c
esac
for a in "$@"; do
	case $a in
	--) break ;;
	--create | -c | -[!-]*c*) create=true ;;
	esac
done
if [ "$create" = false ] || [ -z "${SOURCE_DATE_EPOCH-}" ]; then
	exec "$real" "$@"
fi

# The member lists upstream gives in the order `find` returned them (the
# disk's order): a NUL-separated list on standard input (-T - with
# --null), or the operands after "czf OUT -C DIR" (the 2017 source
# tarball), are sorted too.  Operands are sorted only in that simple form:
# an old-style bundle ending in f, its archive, then -C DIR pairs, long
# options and operands, no -C after an operand, no other short option.
sort_stdin=false
prev=
for a in "$@"; do
	case "$prev:$a" in
	-T:- | --files-from:- | *:--files-from=-) sort_stdin=true ;;
	esac
	prev=$a
done
case " $* " in *" --null "*) ;; *) sort_stdin=false ;; esac

set -f
sorted_operands() {   # prints the new argument list, quoted for eval, or fails
	case ${1-} in -* | "" | *[!a-zA-Z]*) return 1 ;; *f) ;; *) return 1 ;; esac
	[ $# -ge 2 ] || return 1
	out="'$1' '$(printf %s "$2" | sed "s/'/'\\\\''/g")'"
	shift 2
	ops=
	while [ $# -gt 0 ]; do
		q=$(printf %s "$1" | sed "s/'/'\\\\''/g")
		case $1 in
		-C)
			[ -z "$ops" ] && [ $# -ge 2 ] || return 1
			out="$out '-C' '$(printf %s "$2" | sed "s/'/'\\\\''/g")'"
			shift
			;;
		--*=* | --null | --numeric-owner | --no-recursion | --recursion) out="$out '$q'" ;;
		-* | *"
"*) return 1 ;;
		*) ops="$ops$1
" ;;
		esac
		shift
	done
	[ -n "$ops" ] || return 1
	printf '%s' "$ops" | LC_ALL=C sort | while IFS= read -r o; do
		printf " '%s'" "$(printf %s "$o" | sed "s/'/'\\\\''/g")"
	done | { read -r sorted; printf '%s %s\n' "$out" "$sorted"; }
}
if list=$(sorted_operands "$@"); then
	eval "set -- $list"
fi

# The options (no blanks or pattern characters in them: split on purpose).
opts="--sort=name --mtime=@$SOURCE_DATE_EPOCH --owner=0 --group=0 --numeric-owner"
opts="$opts --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime"
# Rotate the arguments once, in order, putting the options in front of
# the first "--", or at the end when there is none.
n=$#
placed=false
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	if [ "$placed" = false ] && [ "$a" = -- ]; then
		set -- "$@" $opts
		placed=true
	fi
	set -- "$@" "$a"
done
[ "$placed" = true ] || set -- "$@" $opts
LC_ALL=C
export LC_ALL
if [ "$sort_stdin" = true ]; then
	sort -z | "$real" "$@"
	exit
fi
exec "$real" "$@"
