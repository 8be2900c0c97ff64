#!/usr/bin/env python3
"""Where the time of `kbuild-ns run -- true` goes, phase by phase.

    start-phases.py PERF-SCRIPT-OUTPUT

Reads `perf script -F comm,pid,tid,time,event,trace` of a `perf record` that
followed a shell loop of `kbuild-ns run ... -- true` (bench/start.sh
--profile makes one) with these events:

  uprobes probe_kbuild:F and probe_kbuild:F__return for F in main,
      project_open, image_find, project_prepare, rt_run, rt_build_root,
      rt_seccomp_load_bpf (a missing one only drops its rows)
  sched:sched_process_exec, sched:sched_process_exit, sched:sched_process_fork
  syscalls: sys_enter/exit_clone, sys_enter/exit_fsync, sys_enter/exit_fsconfig,
      sys_exit_wait4, sys_exit_poll, sys_enter_exit_group

and prints, for each phase, the median, mean and 90th percentile over the
runs, in milliseconds.  Each uprobe hit costs a few microseconds and a
uretprobe'd process takes longer to exit, so the "command exits -> init
reaps it" row is inflated (read its median); the total is within a few
percent of an unprobed run.  Python 3 standard library only.
"""
import re
import statistics
import sys
from collections import defaultdict

LINE = re.compile(r'^\s*(.+?)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$')


def load(path):
    ev = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                comm, pid, _tid, t, name, rest = m.groups()
                ev.append((float(t) * 1000.0, comm.strip(), int(pid), name, rest))
    return ev


def split_runs(ev):
    """One run per exec of kbuild-ns, until the next one."""
    runs, cur = [], None
    for e in ev:
        if e[3] == 'sched:sched_process_exec' and re.match(r'filename=\S*/kbuild-ns\s', e[4] + ' '):
            cur = {'pid': e[2], 'ev': []}
            runs.append(cur)
        if cur is not None:
            cur['ev'].append(e)
    return runs


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    runs = split_runs(load(argv[1]))
    phases, order = defaultdict(list), []

    for r in runs:
        P, E = r['pid'], r['ev']

        def first(pred, after=None):
            for e in E:
                if (after is None or e[0] >= after) and pred(e):
                    return e[0]
            return None

        def probe(name, pid=None):
            return first(lambda e: e[3] == 'probe_kbuild:' + name and (pid is None or e[2] == pid))

        def sc(name, pid, after=None, pred=lambda e: True):
            return first(lambda e: e[3] == name and e[2] == pid and pred(e), after)

        def child_of(pid):
            for e in E:
                if e[3] == 'sched:sched_process_fork' and e[2] == pid:
                    return int(re.search(r'child_pid=(\d+)', e[4]).group(1))
            return None

        init = child_of(P)
        cmd = child_of(init) if init else None
        t = {
            'exec': E[0][0],
            'main': probe('main', P),
            'po': probe('project_open'), 'por': probe('project_open__return'),
            'imf': probe('image_find'), 'imfr': probe('image_find__return'),
            'pp': probe('project_prepare'), 'ppr': probe('project_prepare__return'),
            'fs': sc('syscalls:sys_enter_fsync', P), 'fsr': sc('syscalls:sys_exit_fsync', P),
            'rr': probe('rt_run'), 'rrr': probe('rt_run__return'),
            'cl': sc('syscalls:sys_enter_clone', P), 'clr': sc('syscalls:sys_exit_clone', P),
            'ci': sc('syscalls:sys_exit_clone', init),
            'br': probe('rt_build_root'), 'brr': probe('rt_build_root__return'),
            'c2': sc('syscalls:sys_enter_clone', init),
            'c2r': sc('syscalls:sys_exit_clone', init, pred=lambda e: e[4] != '0x0'),
            'cc': sc('syscalls:sys_exit_clone', cmd),
            'sc': probe('rt_seccomp_load_bpf'), 'scr': probe('rt_seccomp_load_bpf__return'),
            'tx': sc('sched:sched_process_exec', cmd), 'tex': sc('sched:sched_process_exit', cmd),
            'iw': sc('syscalls:sys_exit_wait4', init), 'iex': sc('sched:sched_process_exit', init),
            'mr': probe('main__return', P),
            'xg': sc('syscalls:sys_enter_exit_group', P), 'kex': sc('sched:sched_process_exit', P),
        }
        fc = first(lambda e: e[3] == 'syscalls:sys_enter_fsconfig' and e[2] == init and 'cmd: 0x00000006' in e[4])
        t['fc'], t['fcr'] = fc, (sc('syscalls:sys_exit_fsconfig', init, fc) if fc else None)
        t['pw'] = sc('syscalls:sys_exit_poll', P, t['iex']) if t['iex'] else None
        # the shell that started kbuild-ns sees it exit
        t['sw'] = first(lambda e: e[3] == 'syscalls:sys_exit_wait4' and e[2] != P and
                        e[4] == hex(P), t['kex']) if t['kex'] else None

        def A(label, a, b):
            if t.get(a) is not None and t.get(b) is not None:
                if label not in order:
                    order.append(label)
                phases[label].append(t[b] - t[a])

        A('exec -> main (dynamic loading, constructors)', 'exec', 'main')
        A('main -> project_open', 'main', 'po')
        A('project_open (checkout key)', 'po', 'por')
        A('project_open -> image_find (store_open)', 'por', 'imf')
        A('image_find (image record JSON)', 'imf', 'imfr')
        A('image_find -> project_prepare (project_lock)', 'imfr', 'pp')
        A('project_prepare', 'pp', 'ppr')
        A('  of which fsync(in-use)', 'fs', 'fsr')
        A('project_prepare -> rt_run (env, config, seccomp blob)', 'ppr', 'rr')
        A('rt_run -> clone', 'rr', 'cl')
        A('clone with the new namespaces (in the parent)', 'cl', 'clr')
        A('init: clone -> rt_build_root (id maps, incl. newuidmap/newgidmap)', 'ci', 'br')
        A('rt_build_root (overlay, /proc, /dev, ..., pivot_root)', 'br', 'brr')
        A('  of which fsconfig(FSCONFIG_CMD_CREATE) overlay', 'fc', 'fcr')
        A('rt_build_root -> fork of the command (lo up)', 'brr', 'c2')
        # CLONE_VFORK: init's clone returns when the command has exec'd,
        # so this row spans the three command rows below.
        A('init: clone of the command (returns at its execve)', 'c2', 'c2r')
        A('command: fork -> seccomp (caps, signals, env)', 'cc', 'sc')
        A('command: seccomp filters loaded', 'sc', 'scr')
        A('command: seccomp -> exec (execve with PATH search)', 'scr', 'tx')
        A('the command runs (exec -> exit)', 'tx', 'tex')
        A('command exits -> init reaps it (see note)', 'tex', 'iw')
        A('init reaps -> init exits', 'iw', 'iex')
        A('init exits -> parent wakes (namespace teardown)', 'iex', 'pw')
        A('parent wakes -> rt_run returns', 'pw', 'rrr')
        A('rt_run returns -> main returns', 'rrr', 'mr')
        A('main returns -> exit_group (atexit, destructors)', 'mr', 'xg')
        A('exit_group -> the shell sees the exit (mm teardown)', 'xg', 'sw')
        A('TOTAL: exec -> the shell sees the exit', 'exec', 'sw')

    n = max((len(v) for v in phases.values()), default=0)
    print(f"{n} runs of kbuild-ns run -- true (of {len(runs)} seen)")
    print(f"{'phase':58s} {'median':>8s} {'mean':>8s} {'p90':>8s}  (ms)")
    for k in order:
        v = sorted(phases[k])
        p90 = v[int(0.9 * (len(v) - 1))]
        print(f"{k:58s} {statistics.median(v):8.3f} {statistics.mean(v):8.3f} {p90:8.3f}")


if __name__ == '__main__':
    main(sys.argv)
