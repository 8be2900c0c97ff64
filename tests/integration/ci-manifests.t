#!/bin/sh
# The CI examples of kbuild-ns-ci(7) never rot: every file in examples/ci
# is well-formed YAML; the GitHub workflow restores, imports, builds,
# exports and saves in that order and allows user namespaces; each
# Kubernetes object validates against the API schema (npm package
# kubernetes-models, with unknown fields refused too, and a broken copy
# shown to fail); the seccomp profile in images/seccomp is JSON, allows
# what kbuild-ns needs, and kbuild-ns runs under it (loaded with libseccomp
# as a runtime loads it) but not without its namespace calls; the AppArmor
# pod profile allows mounts and user namespaces; and the man page shows
# each file as it is.
#
# kubernetes-models is installed once with `npm ci` from the lock file in
# tests/integration/npm (every package at a fixed version and digest) into
# $KBUILD_NS_NPM_CACHE (default .cache/npm in the build tree); without
# node, npm or the npm registry those checks are skipped, and without
# python3-yaml the YAML ones.
. "$SRCDIR/tests/integration/lib.sh"

# kubernetes-models 4.5.1 (in npm/package.json) wants node >= 14, so Debian
# 12's nodejs 18 runs it; 5.x wants node 22.
NPM_DIR=$SRCDIR/tests/integration/npm
EX=$SRCDIR/examples/ci
MAN=$SRCDIR/man/kbuild-ns-ci.7
SECCOMP=$SRCDIR/images/seccomp/kbuild-ns.json
APPARMOR=$SRCDIR/images/apparmor/kbuild-ns-pod
files=$(cd "$EX" && ls *.yaml *.yml 2>/dev/null)
manifests=$(cd "$EX" && ls *.yaml 2>/dev/null)
[ -n "$files" ] || { echo "Bail out! no files in $EX"; exit 1; }

# skip DESC REASON: a test that cannot run here.
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

# A python3 with PyYAML (python3-yaml): $PYTHON, else Debian's.
PY=""
for p in "$PYTHON" /usr/bin/python3; do
	"$p" -c 'import yaml' 2>/dev/null && { PY=$p; break; }
done

# ---- YAML ----------------------------------------------------------------------
for f in $files; do
	if [ -z "$PY" ]; then skip "$f is well-formed YAML" "no python3 with yaml (python3-yaml)"; continue; fi
	ok "$f is well-formed YAML" "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
assert docs and all(isinstance(d, dict) for d in docs), "not a mapping"' "$EX/$f"
done

# The workflow: the sysctl, and cache restore, import, make, export, save
# in this order, the restore and save on the key `cache key` printed.
if [ -n "$PY" ]; then
	got=$("$PY" - "$EX/github-workflow.yml" <<-'EOF'
	import sys, yaml
	w = yaml.safe_load(open(sys.argv[1]))
	steps = w["jobs"]["build"]["steps"]
	def find(pred):
	    for i, s in enumerate(steps):
	        if pred(s):
	            return i
	    return -1
	run = lambda word: (lambda s: word in s.get("run", ""))
	order = [find(lambda s: s.get("uses", "").startswith("actions/cache/restore@")),
	         find(run("kbuild-ns cache import")), find(run("kbuild-ns make")),
	         find(run("kbuild-ns cache export")),
	         find(lambda s: s.get("uses", "").startswith("actions/cache/save@"))]
	key = find(run("kbuild-ns cache key"))
	sysctl = find(run("kernel.apparmor_restrict_unprivileged_userns=0"))
	why = []
	if -1 in order or order != sorted(order):
	    why.append("restore, import, make, export, save are not all there in order: %s" % order)
	if key < 0 or key > order[0]:
	    why.append("no `kbuild-ns cache key` step before the restore")
	if sysctl < 0 or sysctl > order[2]:
	    why.append("no sysctl step before the build")
	for i in (order[0], order[4]):
	    if i >= 0 and "steps.key.outputs.key" not in steps[i]["with"]["key"]:
	        why.append("step %d is not keyed on the cache key" % i)
	print("; ".join(why) or "ok")
	EOF
	)
	is "the workflow allows user namespaces, then restores, imports, makes, exports and saves" "$got" ok
	got=$("$PY" - "$EX/gitlab-ci.yml" <<-'EOF'
	import sys, yaml
	j = yaml.safe_load(open(sys.argv[1]))["kbuild-ns"]
	s = "\n".join(j["script"])
	pos = [s.find(w) for w in ("kbuild-ns cache import", "kbuild-ns make", "kbuild-ns cache export")]
	why = []
	if -1 in pos or pos != sorted(pos):
	    why.append("import, make, export not in order")
	if not any(p.endswith("kbuild-ns.cache.tar.zst") for p in j["cache"]["paths"]):
	    why.append("the cache does not keep the export")
	print("; ".join(why) or "ok")
	EOF
	)
	is "the GitLab job imports, makes and exports, and caches the export" "$got" ok
else
	skip "the workflow's steps" "no python3 with yaml"
	skip "the GitLab job's script" "no python3 with yaml"
fi

# ---- the Kubernetes schema -------------------------------------------------------
# One directory per lock file, so that a changed lock installs afresh.
KM_DIR=${KBUILD_NS_NPM_CACHE:-$(pwd)/.cache/npm}/ci-manifests-$(cat "$NPM_DIR/package-lock.json" | sha256sum | cut -c1-12)
km_why=""
if [ -z "$PY" ]; then
	km_why="no python3 with yaml (python3-yaml)"
elif ! command -v node >/dev/null 2>&1; then
	km_why="node is not installed (Debian package nodejs)"
elif [ ! -f "$KM_DIR/node_modules/kubernetes-models/package.json" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		km_why="npm is not installed (Debian package npm)"
	else
		# Into a new directory, then renamed: a half-done install is never used.
		# Readable by all: the suite run as root installs it, a run as a
		# user may use it later.
		mkdir -p "$(dirname "$KM_DIR")" 2>/dev/null && _tmp=$(mktemp -d "$KM_DIR.XXXXXX" 2>/dev/null) &&
			chmod 755 "$_tmp" &&
			cp "$NPM_DIR/package.json" "$NPM_DIR/package-lock.json" "$_tmp/" &&
			(cd "$_tmp" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts \
				--loglevel=error) >"$WORK/npm.log" 2>&1 &&
			{ mv -T "$_tmp" "$KM_DIR" 2>/dev/null || rm -rf "$_tmp"; } ||
			{ km_why="npm ci (kubernetes-models) failed: $(grep -v "^[[:space:]]*$" "$WORK/npm.log" 2>/dev/null | tail -1)"
			  rm -rf "${_tmp:-/nonexistent}"; }
	fi
fi

# to_json FILE...: the YAML documents as the validator's input.
to_json() {
	"$PY" -c '
import json, os, sys, yaml
out = []
for f in sys.argv[1:]:
    for i, d in enumerate(yaml.safe_load_all(open(f))):
        if d is not None:
            out.append({"file": os.path.basename(f), "index": i, "doc": d})
json.dump(out, sys.stdout)' "$@"
}
validate() { node "$SRCDIR/tests/integration/k8s-validate.js" "$KM_DIR/node_modules"; }

if [ -z "$km_why" ]; then
	(cd "$EX" && to_json $manifests) >"$WORK/docs.json"
	validate <"$WORK/docs.json" >"$WORK/valid.out" 2>&1
	n=0
	while IFS='	' read -r f i kind result; do
		n=$((n + 1))
		is "$f, document $i ($kind), validates against the API schema" "$result" ok
	done <"$WORK/valid.out"
	# every document reported (a crash of the validator is a failure)
	is "the validator saw every document" "$n" "$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/docs.json")"
	[ "$n" -gt 0 ] || sed 's/^/# /' "$WORK/valid.out"

	# The check itself: a misspelt field, a wrong type and a wrong enum
	# value in copies of the manifests must each be refused.
	sed 's/backoffLimitPerIndex:/backoffLimitPerIndx:/' "$EX/job-cross.yaml" >"$WORK/bad-field.yaml"
	sed 's/hostUsers: false/hostUsers: "false"/' "$EX/pod-tier-a.yaml" >"$WORK/bad-type.yaml"
	sed 's/procMount: Unmasked/procMount: Unmaskd/' "$EX/pod-tier-b.yaml" >"$WORK/bad-enum.yaml"
	for b in bad-field:backoffLimitPerIndx bad-type:hostUsers bad-enum:procMount; do
		to_json "$WORK/${b%%:*}.yaml" | validate >"$WORK/bad.out" 2>&1
		rc=$?
		grep -q "${b#*:}" "$WORK/bad.out"
		is "a broken copy (${b%%:*}, ${b#*:}) is refused and named" "$rc:$?" 1:0
	done
else
	for f in $manifests; do skip "$f validates against the API schema" "$km_why"; done
	skip "broken copies are refused" "$km_why"
fi

# ---- the seccomp profile ------------------------------------------------------------
got=$("${PY:-$PYTHON}" - "$SECCOMP" <<-'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
need = ["unshare", "clone", "clone3", "mount", "umount2", "pivot_root", "setns",
        "fsopen", "fsconfig", "fsmount", "move_mount", "open_tree", "mount_setattr",
        "sethostname", "execve", "openat", "read", "write", "seccomp"]
allowed = set()
for s in p["syscalls"]:
    if s.get("action") == "SCMP_ACT_ALLOW" and not s.get("args"):
        allowed.update(s["names"])
why = []
if p.get("defaultAction") not in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"):
    why.append("defaultAction %s allows what is not listed" % p.get("defaultAction"))
missing = [n for n in need if n not in allowed]
if missing:
    why.append("not allowed: " + " ".join(missing))
for never in ("kexec_load", "init_module", "bpf", "ptrace", "reboot"):
    if never in allowed:
        why.append(never + " is allowed")
print("; ".join(why) or "ok")
EOF
)
is "images/seccomp/kbuild-ns.json is JSON, refuses by default and allows the namespace and mount calls" "$got" ok

# kbuild-ns itself under the profile, loaded as a runtime would load it
# (libseccomp, no_new_privs): a run in a busybox image works, with its own
# pid namespace (pid 1 is kbuild-ns's init); with the namespace and mount
# calls taken out, as in a runtime's default profile, it stops with 125.
NSCALLS=clone,clone3,unshare,setns,mount,umount,umount2,pivot_root,fsopen,fsconfig,fsmount,fspick,move_mount,open_tree,mount_setattr,sethostname,setdomainname
sc_why=""
if [ ! -x /bin/busybox ]; then sc_why="/bin/busybox (busybox-static) is not installed"
elif ! "$PYTHON" -c 'import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")' 2>/dev/null; then
	sc_why="python3 cannot load libseccomp"
elif ! as_user unshare -Ur true 2>/dev/null; then sc_why="no unprivileged user namespaces here"
elif [ ! -x "$KBUILD_NS" ]; then sc_why="no kbuild-ns binary at $KBUILD_NS"
else
	as_user sh -ec '
		r=$1/rootfs
		mkdir -p "$r/bin" "$r/etc" "$r/root" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$1/co"
		cp /bin/busybox "$r/bin/busybox"
		for a in sh true cat echo; do ln -s busybox "$r/bin/$a"; done
		echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
		tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$1/rootfs.tar" .
		echo "a checkout" >"$1/co/README"' sh "$WORK" >"$WORK/.mkimage" 2>&1 &&
		kb image import "$WORK/rootfs.tar" --name ci-box:1 >"$WORK/.import" 2>&1 ||
		sc_why="making the busybox image failed: $(tail -1 "$WORK/.import" 2>/dev/null)"
fi
# under DROP CMD...: kbuild-ns run on the busybox image under the profile.
under() {
	_drop=$1; shift
	as_user env KBUILD_NS_IDMAP=single timeout -k 5 60 "$PYTHON" "$SRCDIR/tests/integration/seccomp-profile.py" \
		"$SECCOMP" "$_drop" "$KBUILD_NS" -q --state-dir "$STATE" -C "$WORK/co" run --image ci-box:1 -- "$@" </dev/null
}
if [ -z "$sc_why" ]; then
	got=$(under "" cat /proc/1/comm 2>"$WORK/under.err")
	[ "$got" = kbuild-ns-init ] || sed 's/^/# /' "$WORK/under.err"
	is "kbuild-ns run works under images/seccomp/kbuild-ns.json, with a pid namespace of its own" "$got" kbuild-ns-init
	under "$NSCALLS" true >"$WORK/under.out" 2>&1
	is "... and stops with 125 once the namespace and mount calls are taken out" "$?" 125
else
	skip "kbuild-ns run works under images/seccomp/kbuild-ns.json" "$sc_why"
	skip "... and stops with 125 without the namespace calls" "$sc_why"
fi

# ---- the AppArmor pod profile ---------------------------------------------------------
got=""
grep -Eq '^[[:space:]]*deny[[:space:]]+mount' "$APPARMOR" && got="$got deny-mount"
grep -Eq '^[[:space:]]*userns,' "$APPARMOR" || got="$got no-userns"
grep -Eq '^[[:space:]]*mount,' "$APPARMOR" || got="$got no-mount"
grep -Eq '^[[:space:]]*pivot_root,' "$APPARMOR" || got="$got no-pivot_root"
grep -Eq '^profile kbuild-ns-pod ' "$APPARMOR" || got="$got wrong-name"
is "images/apparmor/kbuild-ns-pod: no 'deny mount', allows mount, pivot_root and userns" "${got# }" ""

# ---- the man page shows every file as it is ----------------------------------------------
: "${MANDOC:=}"
[ -n "$MANDOC" ] || MANDOC=$(command -v mandoc || true)
if [ -n "$MANDOC" ] && [ -f "$MAN" ]; then
	"$MANDOC" -Tascii "$MAN" 2>/dev/null | col -bx >"$WORK/page.txt"
	for f in $files; do
		# The file's lines without comments or blank lines, in order and
		# with the same relative indentation, somewhere in the page.
		got=$("${PY:-$PYTHON}" - "$EX/$f" "$WORK/page.txt" <<-'EOF'
		import re, sys
		def lines(path, strip_comments):
		    out = []
		    for l in open(path).read().splitlines():
		        if strip_comments:
		            if re.match(r"^\s*#", l):
		                continue
		            l = re.sub(r"\s+#\s.*$", "", l)
		        l = l.rstrip()
		        if l:
		            out.append(l)
		    return out
		want = lines(sys.argv[1], True)
		page = lines(sys.argv[2], True)
		ind = lambda s: len(s) - len(s.lstrip())
		for start in range(len(page) - len(want) + 1):
		    off = ind(page[start]) - ind(want[0])
		    if all(page[start + k].strip() == w.strip() and ind(page[start + k]) - ind(w) == off
		           for k, w in enumerate(want)):
		        print("ok")
		        break
		else:
		    best = 0
		    for start in range(len(page)):
		        k = 0
		        while k < len(want) and start + k < len(page) and page[start + k].strip() == want[k].strip():
		            k += 1
		        best = max(best, k)
		    print("missing from line %d: %s" % (best + 1, want[best] if best < len(want) else "?"))
		EOF
		)
		is "kbuild-ns-ci(7) shows examples/ci/$f" "$got" ok
	done
else
	for f in $files; do skip "kbuild-ns-ci(7) shows examples/ci/$f" "no mandoc or no page"; done
fi

plan "$_tap_n"
exit $((_tap_failed > 0))
