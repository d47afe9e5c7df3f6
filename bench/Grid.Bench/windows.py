#!/usr/bin/env python3
"""CPU per operation of two interleaved cases, by component, from a perf profile split by the bench's windows.

The bench run writes its windows (--windows FILE); perf samples every CPU with the same clock meanwhile:

    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 \\
      dotnet bench/Grid.Bench/bin/Release/net10.0/Grid.Bench.dll placement --postgres off --windows /tmp/windows.txt &
    perf record -k CLOCK_MONOTONIC -F 1999 -g -a -o /tmp/perf.data -- sleep 60
    perf script -i /tmp/perf.data -F comm,tid,time,ip,sym,dso --ns > /tmp/perf.txt
    bench/Grid.Bench/windows.py /tmp/windows.txt /tmp/perf.txt 'placement/http:_40000_…#0' 'placement/http:_40000_…#1'

(without arguments after the two files it lists the windows' names). Each busy sample in a window of a case counts
1/frequency seconds for that case; divided by the case's operations it is CPU per operation. A sample goes to the GC
threads, or else to the first managed frame from the leaf that is not the core library's (tasks, collections), named
by its namespace; the leaf's kind (kernel, runtime, libc) is added when the leaf is native. The last column is what the
first case spends beyond the second (e.g. HTTP placement beyond the minimal endpoint).
"""
import collections
import re
import sys

HEADER = re.compile(r'^(.*?)\s+(\d+)\s+(\d+\.\d+):\s*$')
MANAGED = re.compile(r'\[([\w.]+)\]\s*(?:[\w.`+<>|\-$,\[\]]+\s)?([\w.`+<>|\-$]+)::')


def windows(path):
    found = collections.defaultdict(list)
    for line in open(path):
        parts = line.split()
        if len(parts) == 5 and parts[0] == 'window':
            found[parts[1]].append((int(parts[2]) / 1e9, int(parts[3]) / 1e9, int(parts[4])))
    return found


def component(frame, depth):
    match = MANAGED.search(frame)
    if not match:
        return None
    assembly, type_name = match.groups()
    if assembly == 'System.Private.CoreLib' and not type_name.startswith('System.Text'):
        return None
    parts = re.split(r'[.+]', type_name)
    return '.'.join(parts[:depth + 1 if type_name.startswith('Microsoft.AspNetCore') else depth])


def leaf_kind(frame):
    for marker, kind in (('kernel', 'kernel'), ('libcoreclr', 'runtime'), ('libc.so', 'libc'), ('sodium', 'libsodium')):
        if marker in frame:
            return kind
    return None


def attribute(samples_path, spans, frequency, depth):
    """Samples per component for each case: spans maps a case to its (start, end) windows."""
    counts = {case: collections.Counter() for case in spans}
    ordered = sorted((start, end, case) for case, ws in spans.items() for start, end in ws)

    def case_at(t):
        for start, end, case in ordered:
            if start <= t < end:
                return case
        return None

    def count(case, thread, stack):
        if case is None or any('do_idle' in f for f in stack):
            return
        if thread.startswith(('.NET Server GC', '.NET BGC', '.NET GC')):
            counts[case]['(GC threads)'] += 1
            return
        if thread.startswith('.NET Tiered'):
            counts[case]['(JIT, tiering)'] += 1
            return
        name = next((c for c in (component(f, depth) for f in stack) if c), '(no managed frame)')
        kind = leaf_kind(stack[0]) if stack else None
        counts[case][name + (f' [{kind}]' if kind else '')] += 1

    case, thread, stack = None, None, []
    for line in open(samples_path):
        if not line.strip():
            count(case, thread, stack)
            case, stack = None, []
        elif not line.startswith('\t'):
            match = HEADER.match(line.rstrip())
            case, thread, stack = (case_at(float(match.group(3))), match.group(1), []) if match else (None, None, [])
        else:
            stack.append(line.strip())
    count(case, thread, stack)
    return counts


def main(args):
    if len(args) < 2:
        sys.exit(__doc__)
    found = windows(args[0])
    if len(args) < 4:
        for name, ws in found.items():
            print(f'{name}: {len(ws)} windows, {sum(n for _, _, n in ws)} operations')
        return
    first, second = args[2], args[3]
    frequency = float(args[4]) if len(args) > 4 else 1999
    depth = int(args[5]) if len(args) > 5 else 2
    spans = {case: [(s, e) for s, e, _ in found[case]] for case in (first, second)}
    operations = {case: sum(n for _, _, n in found[case]) for case in (first, second)}
    counts = attribute(args[1], spans, frequency, depth)
    per = {case: {k: v / frequency / operations[case] * 1e6 for k, v in counts[case].items()} for case in counts}
    print(f'{"µs of CPU per operation":58s} {"first":>8s} {"second":>8s} {"beyond":>8s}')
    print(f'{"all (both cores, every thread)":58s} {sum(per[first].values()):8.1f} {sum(per[second].values()):8.1f} '
          f'{sum(per[first].values()) - sum(per[second].values()):8.1f}')
    keys = set(per[first]) | set(per[second])
    for key in sorted(keys, key=lambda k: -(per[first].get(k, 0) - per[second].get(k, 0))):
        a, b = per[first].get(key, 0), per[second].get(key, 0)
        if max(a, b) >= 0.3:
            print(f'{key[:58]:58s} {a:8.1f} {b:8.1f} {a - b:8.1f}')


if __name__ == '__main__':
    main(sys.argv[1:])
