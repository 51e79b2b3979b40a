#!/usr/bin/env python3
"""Our stack side by side with libdatachannel, aiortc and Chromium: what `make bench` runs.

Runs, interleaved in one run, the same workloads on every stack, prints one
Markdown table (each figure, its ratio to ours in the same process mode, and
the CPU time it took) and writes it with a description of the machine and the
exact commands to docs/benchmarks.md. Standard library only.

It must run inside a loopback-only network namespace (`make bench` starts it
through `unshare -n` with RTC_LOOPBACK_NAMESPACE=1) and refuses otherwise. A
stack that cannot run here is shown as "skipped (reason)", never with a figure.

    python3 Benchmarks/compare.py [--rtc PATH] [--interop PATH] [--python312 PATH] [--python PATH]
        [--chromium PATH] [--rounds N] [--quick] [--out docs/benchmarks.md]
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "Benchmarks" / "peers"
KIB, MIB = 1 << 10, 1 << 20


@dataclass
class Sizes:
    """The workloads' parameters: the real ones, or --quick's small ones for a smoke run."""
    setup_runs: int
    transfer_bytes: int
    message_count: int
    message_size: int
    connections: int
    timeout: int  # seconds any one command may take


FULL = Sizes(setup_runs=50, transfer_bytes=64 * MIB, message_count=100_000, message_size=100, connections=1000, timeout=900)
QUICK = Sizes(setup_runs=3, transfer_bytes=2 * MIB, message_count=2_000, message_size=100, connections=20, timeout=300)

# The byte count and message size each run of the setup workload transfers: setup time
# comes with a transfer in `rtc bench` and in the two-process peers, so the smallest one.
SETUP_BYTES = 16 * KIB


@dataclass
class Workload:
    key: str  # setup | throughput | messages | memory
    title: str
    msg: int = 0  # throughput: message size


@dataclass
class Figure:
    """One stack's result on one workload: `value` is what the ratio compares."""
    value: float
    text: str
    cpu: str = "—"


class Skipped(Exception):
    """The stack cannot run this workload here; the text says why."""


# MARK: - Running commands


class Runner:
    """Runs the benchmark commands with bounded waits and remembers each distinct command line."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.commands = []

    def note(self, text):
        text = text.replace(f"{ROOT}/", "")  # the commands run in the repository root
        if text not in self.commands:
            self.commands.append(text)

    def json_line(self, argv, cwd=ROOT):
        """Runs `argv`; returns its last stdout line as a JSON object, or raises Skipped with why it failed."""
        self.note(shlex.join(str(part) for part in argv))
        try:
            done = subprocess.run([str(part) for part in argv], cwd=cwd, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise Skipped(f"timed out after {self.timeout} s") from None
        except OSError as error:
            raise Skipped(f"cannot run {argv[0]}: {error.strerror}") from None
        lines = done.stdout.strip().splitlines()
        result = parse_object(lines[-1]) if lines else None
        if done.returncode != 0 or result is None or result.get("ok") is False:
            reason = (result or {}).get("error") or last_line(done.stderr) or f"exit status {done.returncode}"
            raise Skipped(f"failed: {reason}")
        return result

    def pair(self, offerer, answerer, timeout):
        """Two `rtc peer` protocol peers cross-piped (docs/rtc-peer.md): their result objects.

        Every line one prints goes to the other's standard input. Both are stopped
        (by their own PIDs) once `timeout` seconds have passed.
        """
        self.note(f"{shlex.join(map(str, offerer))}  ×  {shlex.join(map(str, answerer))}  (cross-piped)")
        with tempfile.TemporaryFile("w+") as offerer_log, tempfile.TemporaryFile("w+") as answerer_log:
            logs = (offerer_log, answerer_log)
            try:
                peers = [subprocess.Popen([str(part) for part in argv], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=log) for argv, log in zip((offerer, answerer), logs)]
            except OSError as error:
                raise Skipped(f"cannot run a peer: {error.strerror}") from None
            results = [None, None]

            def forward(index):
                for line in peers[index].stdout:
                    message = parse_object(line)
                    if message and message.get("type") == "result":
                        results[index] = message
                    try:
                        peers[1 - index].stdin.write(line)
                        peers[1 - index].stdin.flush()
                    except (OSError, ValueError):
                        pass  # the other peer has exited: its remaining lines are not needed

            pumps = [threading.Thread(target=forward, args=(index,), daemon=True) for index in (0, 1)]
            for pump in pumps:
                pump.start()
            deadline = time.monotonic() + timeout
            for peer in peers:
                try:
                    peer.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    peer.kill()
                    peer.wait()
            for pump in pumps:
                pump.join(5)
            for peer in peers:
                try:
                    peer.stdin.close()
                except OSError:
                    pass  # a line it never read is still buffered for it
            for index, role in enumerate(("offerer", "answerer")):
                if not (results[index] or {}).get("ok"):
                    logs[index].seek(0)
                    reason = (results[index] or {}).get("error") or last_line(logs[index].read()) or "no result line"
                    raise Skipped(f"the {role} failed: {reason}")
            return results


def parse_object(text):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def last_line(text):
    """The line of `text` that says why a command failed: its last `Error:` line, else its last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors or lines or [""])[-1][:300]


# MARK: - Figures


def setup_figure(median_ms, max_ms):
    return Figure(median_ms, f"{median_ms:.1f} ms median, {max_ms:.1f} ms max")


def throughput_figure(mbps, cpu):
    return Figure(mbps, f"{mbps:.1f} MB/s", cpu)


def messages_figure(per_second, cpu):
    return Figure(per_second, f"{per_second:,.0f} messages/s", cpu)


def memory_figure(kib):
    return Figure(kib, f"{kib:,.0f} KiB per connection")


def seconds(value):
    return f"{value:.2f} s"


def two_sides(source, sink):
    """CPU of a two-process run: the total, and each side's share (as the peers report it)."""
    if "cpu_s" not in source or "cpu_s" not in sink:
        return "not reported by the peers"
    return f"{seconds(source['cpu_s'] + sink['cpu_s'])} (source {source['cpu_s']:.2f} + sink {sink['cpu_s']:.2f})"


# MARK: - Stacks


class Stack:
    """One row group of the table. `run(workload)` returns a Figure or raises Skipped.

    Each subclass has a method per workload key; two-process stacks have no `memory`.
    """
    name = ""
    mode = "1 process"  # ratios compare with ours in the same mode
    unavailable = None  # why this stack cannot run here at all

    def __init__(self, runner, sizes):
        self.runner = runner
        self.sizes = sizes

    def label(self):
        return f"{self.name}, {self.mode}"

    def run(self, workload):
        if self.unavailable:
            raise Skipped(self.unavailable)
        return getattr(self, workload.key)(workload)


class Ours(Stack):
    """Our stack through `rtc bench` (Sources/rtc/BenchCommand.swift)."""
    name = "ours"

    def __init__(self, runner, sizes, rtc, processes):
        super().__init__(runner, sizes)
        self.rtc = rtc
        self.processes = processes
        self.mode = "1 process" if processes == 1 else "2 processes"
        if not os.access(rtc, os.X_OK):
            self.unavailable = f"no rtc binary at {rtc} (swift build -c release --product rtc)"

    def bench(self, *arguments):
        return self.runner.json_line([self.rtc, "bench", "--processes", self.processes, *arguments, "--json"])

    def cpu(self, result):
        cpu = result["cpu_s_per_run"]
        return seconds(cpu) if self.processes == 1 else f"{seconds(cpu)} (both processes)"

    def setup(self, workload):
        result = self.bench("--runs", self.sizes.setup_runs, "--bytes", SETUP_BYTES, "--msg", SETUP_BYTES)
        return setup_figure(result["setup_ms_median"], result["setup_ms_max"])

    def throughput(self, workload):
        result = self.bench("--runs", 1, "--bytes", self.sizes.transfer_bytes, "--msg", workload.msg)
        return throughput_figure(result["MBps_median"], self.cpu(result))

    def messages(self, workload):
        size = self.sizes.message_size
        result = self.bench("--runs", 1, "--bytes", self.sizes.message_count * size, "--msg", size)
        return messages_figure(result["messages_per_s_median"], self.cpu(result))

    def memory(self, workload):
        usage = subprocess.run([self.rtc, "bench", "--help"], capture_output=True, text=True, timeout=30).stdout
        if "--memory-connections" not in usage:
            raise Skipped("n/a: this rtc has no `rtc bench --memory-connections` yet")
        result = self.runner.json_line([self.rtc, "bench", "--memory-connections", self.sizes.connections, "--json"])
        return memory_figure(result["rss_per_connection_kib"])


class InProcess(Stack):
    """A foreign stack's two peers in one Python process (Benchmarks/peers/inprocess_bench.py)."""

    def __init__(self, runner, sizes, name, python, module):
        super().__init__(runner, sizes)
        self.name = name
        self.python = python
        self.unavailable = python_unavailable(python, module)

    def bench(self, *arguments):
        return self.runner.json_line([self.python, PEERS / "inprocess_bench.py", "--stack", self.name,
                                      "--timeout", self.sizes.timeout - 10, *arguments])

    def setup(self, workload):
        result = self.bench("--workload", "setup", "--runs", self.sizes.setup_runs)
        return setup_figure(result["median_ms"], result["max_ms"])

    def throughput(self, workload):
        result = self.bench("--workload", "throughput", "--bytes", self.sizes.transfer_bytes, "--msg", workload.msg)
        return throughput_figure(result["MBps"], seconds(result["cpu_s"]))

    def messages(self, workload):
        result = self.bench("--workload", "messages", "--count", self.sizes.message_count, "--size", self.sizes.message_size)
        return messages_figure(result["messages_per_s"], seconds(result["cpu_s"]))

    def memory(self, workload):
        result = self.bench("--workload", "memory", "--connections", self.sizes.connections)
        return memory_figure(result["rss_per_connection_kib"])


class TwoProcesses(Stack):
    """A foreign stack's `rtc peer`-protocol script, two copies cross-piped by this driver.

    Setup is the later of the two peers' `open_s`, as `rtc bench --processes 2`
    counts it; throughput and messages/s are the sink's; CPU is both processes'.
    """
    mode = "2 processes"

    def __init__(self, runner, sizes, name, python, module, script):
        super().__init__(runner, sizes)
        self.name = name
        self.command = [python, script]
        self.unavailable = python_unavailable(python, module)

    def source_sink(self, total, msg):
        timeout = self.sizes.timeout - 10
        common = ["--bytes", total, "--msg", msg, "--timeout", timeout - 10]
        return self.runner.pair(self.command + ["--role", "offerer", "--mode", "source", *common],
                                self.command + ["--role", "answerer", "--mode", "sink", *common], timeout)

    def setup(self, workload):
        times = []
        for _ in range(self.sizes.setup_runs):
            source, sink = self.source_sink(SETUP_BYTES, SETUP_BYTES)
            times.append(max(source["open_s"], sink["open_s"]) * 1000)
        return setup_figure(statistics.median(times), max(times))

    def throughput(self, workload):
        source, sink = self.source_sink(self.sizes.transfer_bytes, workload.msg)
        return throughput_figure(sink["MBps"], two_sides(source, sink))

    def messages(self, workload):
        size = self.sizes.message_size
        source, sink = self.source_sink(self.sizes.message_count * size, size)
        return messages_figure(sink["messages"] / sink["seconds"], two_sides(source, sink))


class Chromium(Stack):
    """Two RTCPeerConnections in one headless Chromium page, through `rtc-interop chromium-bench`."""
    name = "Chromium"
    mode = "1 page"

    def __init__(self, runner, sizes, interop, chromium):
        super().__init__(runner, sizes)
        self.command = [interop, "chromium-bench", "--chromium", chromium, "--pages", ROOT / "Benchmarks" / "chromium",
                        "--timeout", sizes.timeout - 60]
        if not os.access(interop, os.X_OK):
            self.unavailable = f"no rtc-interop binary at {interop} (swift build -c release --product rtc-interop)"
        elif not os.access(chromium, os.X_OK):
            self.unavailable = f"no Chromium at {chromium} (apt-get install chromium)"

    def setup(self, workload):
        result = self.runner.json_line(self.command + ["--workload", "setup", "--runs", self.sizes.setup_runs])
        return setup_figure(result["median_ms"], result["max_ms"])

    def throughput(self, workload):
        result = self.runner.json_line(self.command + ["--workload", "throughput", "--bytes", self.sizes.transfer_bytes,
                                                       "--msg", workload.msg])
        return throughput_figure(result["MBps"], f"{seconds(result['cpu_s'])} (all browser processes)")

    def messages(self, workload):
        result = self.runner.json_line(self.command + ["--workload", "messages", "--count", self.sizes.message_count,
                                                       "--size", self.sizes.message_size])
        return messages_figure(result["messages_per_s"], f"{seconds(result['cpu_s'])} (all browser processes)")

    def memory(self, workload):
        raise Skipped("not measured: a browser's memory is not comparable per connection")


def python_unavailable(python, module):
    """Why `python` cannot import `module` (None if it can)."""
    try:
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot run {python}: {error}"
    if probe.returncode != 0:
        return f"{python} cannot import {module}: {last_line(probe.stderr) or last_line(probe.stdout)}"
    return None


# MARK: - The run


def workloads(sizes):
    size = f"{sizes.transfer_bytes // MIB} MiB"
    return [
        Workload("setup", f"setup ({sizes.setup_runs} runs)"),
        Workload("throughput", f"{size} in 16 KiB messages", msg=16 * KIB),
        Workload("throughput", f"{size} in 64 KiB messages", msg=64 * KIB),
        Workload("messages", f"{sizes.message_count:,} messages of {sizes.message_size} B"),
        Workload("memory", f"memory, {sizes.connections} connections"),
    ]


def aggregate(figures):
    """Several rounds' figures as one: the median by value."""
    ordered = sorted(figures, key=lambda figure: figure.value)
    median = ordered[len(ordered) // 2]
    if len(figures) == 1:
        return median
    return Figure(median.value, f"{median.text} (median of {len(figures)} rounds)", median.cpu)


def table(rows):
    """Markdown: one row per workload × stack."""
    lines = ["| workload | stack | figure | ratio to ours | CPU |", "|---|---|---|---|---|"]
    for workload, stack, outcome, ours in rows:
        if isinstance(outcome, Figure):
            if stack.name == "ours":
                ratio = "1 (ours)"
            elif isinstance(ours, Figure) and ours.value > 0:
                ratio = f"{outcome.value / ours.value:.2f}×"
            else:
                ratio = "—"
            lines.append(f"| {workload.title} | {stack.label()} | {outcome.text} | {ratio} | {outcome.cpu} |")
        else:
            lines.append(f"| {workload.title} | {stack.label()} | skipped ({outcome}) | — | — |")
    return "\n".join(lines)


def command_output(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine(arguments):
    """The machine and the versions of everything measured, as Markdown list items."""
    lscpu = {}
    for line in (command_output(["lscpu"]) or "").splitlines():
        key, _, value = line.partition(":")
        lscpu[key.strip()] = value.strip()
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    # The wheel's version, and the version of the OpenSSL it bundles (from its file name, libssl-HASH.so.VERSION).
    ldc_probe = ("import importlib.metadata as m, pathlib, sys, aiolibdatachannel as a; "
                 "libs = (pathlib.Path(a.__file__).parent.parent / 'aiolibdatachannel.libs').glob('libssl*.so.*'); "
                 "ssl = ', '.join(sorted(p.name.split('.so.')[1] for p in libs)) or 'unknown'; "
                 "print(f\"aiolibdatachannel {m.version('aiolibdatachannel')}, bundling OpenSSL {ssl}; Python {sys.version.split()[0]}\")")
    aiortc_probe = "import aiortc, aioice, sys; print(aiortc.__version__, '/ aioice', aioice.__version__, '/ Python', sys.version.split()[0])"
    unknown = "unknown"
    items = [
        f"CPU: {lscpu.get('Model name', unknown)}, {lscpu.get('CPU(s)', unknown)} logical CPUs",
        f"memory: {memory_kib / MIB:.1f} GiB; kernel {platform.release()}",
        f"Swift: {(command_output(['swift', '--version']) or unknown).splitlines()[0]}",
        f"OpenSSL (ours): {command_output(['dpkg-query', '-W', '-f=${Version}', 'libssl3']) or unknown} (Debian libssl3)",
        f"usrsctp (ours): {command_output(['dpkg-query', '-W', '-f=${Version}', 'libusrsctp2']) or unknown} (Debian libusrsctp2)",
        f"Chromium: {command_output([arguments.chromium, '--version']) or unknown}",
        f"aiortc: {command_output([arguments.python, '-c', aiortc_probe]) or unknown}",
        f"libdatachannel: {command_output([arguments.python312, '-c', ldc_probe]) or unknown} (libdatachannel, with its "
        "own usrsctp and libjuice, is linked into the wheel, which does not expose libdatachannel's version)",
    ]
    return [f"- {item}" for item in items]


HOW_TO_RUN = """\
# Benchmarks: our stack side by side with other stacks

Run, as root, on a quiet machine:

```sh
make bench
```

It builds `rtc` and `rtc-interop` in release mode and runs `Benchmarks/compare.py`
inside a private network namespace that holds only loopback (`unshare -n`), where
it runs the same workloads on every stack, interleaved (each workload on each stack
in turn, `--rounds N` times), and rewrites this file. `python3 Benchmarks/compare.py
--help` lists its options; `--quick` makes every workload small, for checking that the
scripts work, not for figures.

The stacks: ours through `rtc bench` (both peers in one process; or `--processes 2`,
two `rtc peer` processes cross-piped); libdatachannel through the PyPI wheel
`aiolibdatachannel` (Python 3.12), with both peers in one Python process
(`Benchmarks/peers/inprocess_bench.py`) or as two `Benchmarks/peers/libdatachannel_peer.py`
processes speaking the `rtc peer` protocol; aiortc the same ways
(`inprocess_bench.py`, `Tests/interop/aiortc_peer.py`); and two RTCPeerConnections in
one headless Chromium page (`Benchmarks/chromium`, through `rtc-interop
chromium-bench`). The Python stacks pay their binding's or interpreter's cost per
message: libdatachannel's messages are handled in its callback thread, not queued
through asyncio.

The workloads: **setup**, from creating the peer connections to the channel open on
both sides (in two processes: the later of the two peers' time from its start to the
channel open, so it includes waiting for the other process to start; a Python peer's
clock starts after its imports); **throughput**, one reliable
ordered channel, MB/s at the receiver, every message's sequence number and every byte
counted, CPU seconds of the whole run (both processes in two-process runs); **messages**,
many small messages, messages/s at the receiver; **memory**, resident memory per peer
connection with N connections (N/2 connected pairs) each holding an open channel,
after one warm-up pair. Every sender pauses above 1 MiB queued. The ratio is the
stack's figure divided by ours in the same process mode (a browser page counts as one
process): above 1 is faster for throughput and messages, slower for setup, bigger for
memory.
"""


def document(arguments, sizes, started, runner, markdown):
    smoke = ("\n**Smoke run (`--quick`, small sizes, on a loaded machine): these figures only show that "
             "the scripts work; they are not measurements.**\n" if arguments.quick else "")
    commands = "\n".join(runner.commands)
    return (f"{HOW_TO_RUN}\n## Run of {started:%Y-%m-%d %H:%M} UTC\n{smoke}\n"
            + "\n".join(machine(arguments))
            + f"\n\n{markdown}\n\n### Commands\n\nIn the order they first ran (working directory: the repository root):\n\n"
            f"```\n{commands}\n```\n")


def loopback_only():
    """Why this is not a loopback-only network namespace (None if it is)."""
    if os.environ.get("RTC_LOOPBACK_NAMESPACE") != "1":
        return "RTC_LOOPBACK_NAMESPACE is not 1"
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        return f"the network interfaces are {', '.join(interfaces)}, not only lo"
    return None


def parse_arguments():
    parser = argparse.ArgumentParser(description="Side-by-side benchmarks of our stack and others (make bench).")
    build = ROOT / ".build" / "release"
    parser.add_argument("--rtc", default=str(build / "rtc"), help="the rtc binary (release build)")
    parser.add_argument("--interop", default=str(build / "rtc-interop"), help="the rtc-interop binary (release build)")
    parser.add_argument("--python312", default="python3.12", help="a Python >= 3.12 with the PyPI wheel aiolibdatachannel")
    parser.add_argument("--python", default="python3", help="the Python with aiortc")
    parser.add_argument("--chromium", default="/usr/lib/chromium/chromium", help="the Chromium binary")
    parser.add_argument("--rounds", type=int, default=1, help="times each workload runs on each stack (the median is shown)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of the scripts, not measurements")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="where to write the document")
    arguments = parser.parse_args()
    if arguments.rounds < 1:
        parser.error("--rounds must be at least 1")
    return arguments


def main():
    arguments = parse_arguments()
    why = loopback_only()
    if why:
        sys.exit(f"compare.py: refusing to run outside a loopback-only network namespace ({why}); "
                 "run `make bench` as root, or: unshare -n sh -c 'ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 python3 Benchmarks/compare.py'")
    # The Python peers import their helper module: leave no __pycache__ in the tree.
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sizes = QUICK if arguments.quick else FULL
    started = datetime.datetime.now(datetime.timezone.utc)
    runner = Runner(sizes.timeout)
    ours = {"1 process": Ours(runner, sizes, arguments.rtc, 1), "2 processes": Ours(runner, sizes, arguments.rtc, 2)}
    stacks = [
        ours["1 process"], ours["2 processes"],
        InProcess(runner, sizes, "libdatachannel", arguments.python312, "aiolibdatachannel"),
        TwoProcesses(runner, sizes, "libdatachannel", arguments.python312, "aiolibdatachannel", PEERS / "libdatachannel_peer.py"),
        InProcess(runner, sizes, "aiortc", arguments.python, "aiortc"),
        TwoProcesses(runner, sizes, "aiortc", arguments.python, "aiortc", ROOT / "Tests" / "interop" / "aiortc_peer.py"),
        Chromium(runner, sizes, arguments.interop, arguments.chromium),
    ]
    rows = []
    for workload in workloads(sizes):
        # Memory is a per-process figure: two-process runs have none.
        present = [stack for stack in stacks if workload.key != "memory" or stack.mode != "2 processes"]
        outcomes = {stack: [] for stack in present}
        for round_index in range(arguments.rounds):
            for stack in present:
                try:
                    outcome = stack.run(workload)
                    print(f"{workload.title} | {stack.label()}: {outcome.text}, CPU {outcome.cpu}", file=sys.stderr, flush=True)
                except Skipped as skipped:
                    outcome = str(skipped)
                    print(f"{workload.title} | {stack.label()}: skipped ({outcome})", file=sys.stderr, flush=True)
                outcomes[stack].append(outcome)
        results = {}
        for stack in present:
            figures = [outcome for outcome in outcomes[stack] if isinstance(outcome, Figure)]
            # A stack that failed in any round shows the failure, not a figure from the others.
            failures = [outcome for outcome in outcomes[stack] if not isinstance(outcome, Figure)]
            results[stack] = failures[0] if failures else aggregate(figures)
        for stack in present:
            baseline = ours["2 processes" if stack.mode == "2 processes" else "1 process"]
            rows.append((workload, stack, results[stack], results.get(baseline)))
    markdown = table(rows)
    print(markdown)
    out = Path(arguments.out)
    out.write_text(document(arguments, sizes, started, runner, markdown))
    print(f"compare.py: wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
