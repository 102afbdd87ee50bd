#!/usr/bin/env python3
"""Runs a command and reports its wall time and peak memory, sampled from /proc: the peak of
anonymous RSS (the memory the program allocates) apart from file-backed RSS (pages of a
mapped dump, which the kernel can drop at any time), and the kernel's own VmHWM.

Usage: measure.py LABEL COMMAND... ; prints one JSON line.
"""
import json
import subprocess
import sys
import time


def status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "VmHWM"):
                    fields[key] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def main():
    label, command = sys.argv[1], sys.argv[2:]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    while proc.poll() is None:
        for key, value in status(proc.pid).items():
            peak[key] = max(peak[key], value)
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    print(json.dumps({
        "label": label,
        "seconds": round(elapsed, 3),
        "exit": proc.returncode,
        "peak_anon_bytes": peak["RssAnon"],
        "peak_file_bytes": peak["RssFile"],
        "peak_rss_bytes": peak["VmHWM"],
    }))


if __name__ == "__main__":
    main()
