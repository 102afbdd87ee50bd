#!/usr/bin/env python3
"""Runs a command and reports its wall time and peak memory, sampled from /proc over the
process and its descendants: the peak of anonymous RSS (the memory the program allocates)
apart from file-backed RSS (pages of a mapped dump, which the kernel can drop at any time),
and the peak of their sum.

Usage: measure.py LABEL COMMAND... ; prints one JSON line.
"""
import json
import os
import subprocess
import sys
import time


def status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    fields[key] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def main():
    label, command = sys.argv[1], sys.argv[2:]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = {"RssAnon": 0, "RssFile": 0, "Rss": 0}
    while proc.poll() is None:
        total = {"RssAnon": 0, "RssFile": 0}
        for pid in descendants(proc.pid):
            for key, value in status(pid).items():
                total[key] += value
        for key, value in total.items():
            peak[key] = max(peak[key], value)
        peak["Rss"] = max(peak["Rss"], total["RssAnon"] + total["RssFile"])
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    print(json.dumps({
        "label": label,
        "seconds": round(elapsed, 3),
        "exit": proc.returncode,
        "peak_anon_bytes": peak["RssAnon"],
        "peak_file_bytes": peak["RssFile"],
        "peak_rss_bytes": peak["Rss"],
    }))


if __name__ == "__main__":
    main()
