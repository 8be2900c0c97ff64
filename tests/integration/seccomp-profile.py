# Apply a seccomp profile in Docker's and OCI's JSON form to this process,
# as a container runtime would, then exec a command under it (used by
# tests/integration/ci-manifests.t to run kbuild-ns under
# images/seccomp/kbuild-ns.json).
#
#   python3 seccomp-profile.py PROFILE DROP CMD [ARG...]
#
# DROP: comma-separated calls to leave out of the profile ("" for none), to
# stand in for a runtime's default profile.  Only the native architecture;
# entries with argument conditions are left out (they only narrow what
# another entry allows, and kbuild-ns does not need them); names this
# architecture does not have are skipped.  Uses libseccomp through ctypes.
import ctypes
import ctypes.util
import json
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000


def scmp_act_errno(e):
    return 0x00050000 | (e & 0xFFFF)


def main():
    prof = json.load(open(sys.argv[1]))
    drop = set(filter(None, sys.argv[2].split(",")))
    if prof.get("defaultAction") != "SCMP_ACT_ERRNO":
        sys.exit("seccomp-profile.py: only defaultAction SCMP_ACT_ERRNO is handled")
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(scmp_act_errno(prof.get("defaultErrnoRet", 1)))
    if not ctx:
        sys.exit("seccomp-profile.py: seccomp_init failed")
    for entry in prof["syscalls"]:
        if entry.get("action") != "SCMP_ACT_ALLOW" or entry.get("args"):
            continue
        for name in entry["names"]:
            if name in drop:
                continue
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                continue
            if lib.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0:
                sys.exit("seccomp-profile.py: seccomp_rule_add(%s) failed" % name)
    if lib.seccomp_load(ctx) < 0:
        sys.exit("seccomp-profile.py: seccomp_load failed")
    os.execvp(sys.argv[3], sys.argv[3:])


if __name__ == "__main__":
    main()
