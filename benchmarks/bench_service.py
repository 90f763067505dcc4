"""Service decisions: over HTTP (single and batch) against a trivial FastAPI endpoint measured in
the same run, and in process (batches, cold and warm, and a screening of every subject).

Setup: a SQLite ledger in a temporary folder with a synthetic population (2,440 subjects, one
year of records ending 2025-12-31), due process run (`tick`: listing notices, human reviews, a
third of the reviews confirmed), and an enforcer of the civil aviation agency (caac).

HTTP: uvicorn in its own process (one worker, loopback, h11, access log off), driven by a small
asyncio client in this process (raw HTTP/1.1 on keep-alive connections, so the client costs as
little CPU as possible; its CPU and the server's are printed). The trivial endpoint
(GET /health), single decisions (POST /decisions) and batches of 100 (POST /decisions/batch)
run in interleaved rounds, so a noisy machine slows all three alike.

Run: .venv/bin/python benchmarks/bench_service.py [--seconds 4 --rounds 3 --connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

ON = date(2025, 12, 31)
ASK_DATE = ON.isoformat()


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


# --- setup ------------------------------------------------------------------------------------


def build(folder: Path) -> tuple[str, str, list[str], list[str]]:
    """The ledger (url), the enforcer's token, subject ids and actions."""
    from xinyong.files import load_policy
    from xinyong.ledger.cases import load
    from xinyong.ledger.store import Batch, Ledger
    from xinyong.process.workflow import resolve, tick
    from xinyong.service import add_user
    from xinyong.sim.population import generate

    policy = load_policy()
    pop = generate(policy, seed=0, persons=2000, enterprises=400, start=date(2025, 1, 1),
                   end=ON)
    url = f"sqlite:///{folder}/ledger.db"
    now = [datetime(2025, 12, 31, 8)]
    ledger = Ledger.open(url, clock=lambda: now[0])
    ledger.write(Batch(subjects=list(pop.subjects), links=list(pop.links),
                       records=list(pop.records), events=list(pop.events)))
    now[0] = datetime(2025, 12, 31, 12)
    report = tick(ledger, policy, until=ON)
    reviews = load(ledger, kind="review")
    for case in reviews[::3]:
        resolve(ledger, policy, case.id, "confirmed", "checked", "reviewer:bench")
    token = add_user(ledger, "caac-1", "enforcer", agency="caac")
    subjects = sorted(ledger.subjects())
    ledger.dispose()
    print(f"ledger: {len(pop.subjects):,} subjects, {len(pop.links):,} links, "
          f"{len(pop.records):,} records, {len(pop.events):,} events; tick served "
          f"{report.listing_notices} listing notices and opened {report.reviews_opened} "
          f"reviews ({len(reviews[::3])} confirmed)")
    return url, token, subjects, sorted(policy.actions)


# --- the server -------------------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    import uvicorn

    from xinyong.api.app import create_app
    from xinyong.files import load_policy
    from xinyong.ledger.store import Ledger

    app = create_app(Ledger.open(url, migrate=False), load_policy())

    @app.get("/trivial-async")
    async def trivial() -> dict[str, str]:  # the other trivial baseline: no worker thread
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the client -------------------------------------------------------------------------------


@dataclass
class Run:
    requests: int = 0
    decisions: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float = 0.0


def request(method: str, path: str, token: str, body: Any = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def drive(port: int, requests: list[bytes], per_request: int, seconds: float,
                connections: int, pid: int) -> Run:
    run = Run()
    stop = time.perf_counter() + seconds
    rng = random.Random(len(requests))

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                writer.write(requests[rng.randrange(len(requests))])
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12]
                size = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        size = int(line[15:])
                body = await reader.readexactly(size)
                if status != b"200":
                    raise SystemExit(f"HTTP {status.decode()}: {body[:300]!r}")
                run.latencies.append(time.perf_counter() - t0)
                run.requests += 1
                run.decisions += per_request
        finally:
            writer.close()

    c0, s0, t0 = time.process_time(), cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    run.seconds = time.perf_counter() - t0
    run.client_cpu, run.server_cpu = time.process_time() - c0, cpu_seconds(pid) - s0
    return run


def merge(runs: list[Run]) -> Run:
    out = Run()
    for r in runs:
        out.requests += r.requests
        out.decisions += r.decisions
        out.seconds += r.seconds
        out.latencies += r.latencies
        out.client_cpu += r.client_cpu
        out.server_cpu += r.server_cpu
    return out


def http(url: str, token: str, subjects: list[str], actions: list[str], args: Any) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", url, str(port)])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        rng = random.Random(7)
        health = [request("GET", "/health", token)]
        trivial_async = [request("GET", "/trivial-async", token)]
        single = [request("POST", "/decisions", token, {
            "subject": rng.choice(subjects), "action": rng.choice(actions), "on": ASK_DATE})
            for _ in range(5000)]
        batch = [request("POST", "/decisions/batch", token, {"items": [
            {"subject": rng.choice(subjects), "action": rng.choice(actions), "on": ASK_DATE}
            for _ in range(args.batch)]}) for _ in range(200)]
        kinds = {"trivial GET /health": (health, 0),
                 "trivial async GET": (trivial_async, 0),
                 "POST /decisions (single)": (single, 1),
                 f"POST /decisions/batch ({args.batch})": (batch, args.batch)}
        results: dict[str, list[Run]] = {k: [] for k in kinds}
        # steady state: one batch asks about every subject once, so the standings are cached
        # (cold costs are measured in process below); then each kind warms its code paths
        import httpx

        t0 = time.perf_counter()
        httpx.post(f"http://127.0.0.1:{port}/decisions/batch", timeout=120,
                   headers={"Authorization": f"Bearer {token}"},
                   json={"items": [{"subject": s, "action": actions[0], "on": ASK_DATE}
                                   for s in subjects]}).raise_for_status()
        print(f"\ncache warmed over HTTP: one batch asking about all {len(subjects):,} "
              f"subjects, {time.perf_counter() - t0:.2f} s")
        for reqs, n in kinds.values():
            asyncio.run(drive(port, reqs, n, 1.0, args.connections, server.pid))
        for _ in range(args.rounds):
            for k, (reqs, n) in kinds.items():
                results[k].append(asyncio.run(drive(port, reqs, n, args.seconds,
                                                    args.connections, server.pid)))
    finally:
        server.terminate()
        server.wait()
    print(f"\nHTTP: uvicorn, 1 worker (h11); client: asyncio, {args.connections} keep-alive "
          f"connections; {args.rounds} interleaved rounds of {args.seconds:g} s each")
    merged = {k: merge(v) for k, v in results.items()}
    for k, r in merged.items():
        rps, dps = r.requests / r.seconds, r.decisions / r.seconds
        print(f"{k:<30} {rps:8,.0f} req/s {dps:9,.0f} decisions/s   "
              f"p50 {percentile(r.latencies, 0.5) * 1e3:6.2f} ms   "
              f"p99 {percentile(r.latencies, 0.99) * 1e3:6.2f} ms   "
              f"cpu: server {r.server_cpu / r.seconds:4.0%} client {r.client_cpu / r.seconds:4.0%}")
    for trivial in ("trivial GET /health", "trivial async GET"):
        base = merged[trivial]
        base_rps = base.requests / base.seconds
        for k, r in merged.items():
            if k.startswith("trivial"):
                continue
            per_round = [(x.decisions / x.seconds) / (b.requests / b.seconds)
                         for x, b in zip(results[k], results[trivial], strict=True)]
            print(f"ratio {k} / {trivial}: decisions/s "
                  f"{r.decisions / r.seconds / base_rps:6.2f}, req/s "
                  f"{r.requests / r.seconds / base_rps:4.2f}  (per round: "
                  + ", ".join(f"{x:.2f}" for x in per_round) + ")")


# --- in process -------------------------------------------------------------------------------


def in_process(url: str, subjects: list[str], actions: list[str], args: Any) -> None:
    from xinyong.engine import decide
    from xinyong.engine.explain import decision_data
    from xinyong.files import load_policy
    from xinyong.ledger.store import Ledger
    from xinyong.service import Principal, Service
    from xinyong.standings import standing

    policy = load_policy()
    ledger = Ledger.open(url, migrate=False)
    who = Principal("caac-1", "enforcer", agency="caac")
    rng = random.Random(11)
    asks = [(rng.choice(subjects), rng.choice(actions), ON) for _ in range(args.asks)]
    screening = [(s, a, ON) for s in subjects for a in actions]

    def timed(service: Service, batch: list[tuple[str, str, date]]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        out = service.decisions(who, batch)
        return time.perf_counter() - t0, out

    # the way it was: every ask resolves and evaluates its subject on its own (one audit entry)
    plain_service = Service(ledger, policy)
    sample = asks[:500]
    t0 = time.perf_counter()
    plain = []
    for key, action, on in sample:
        st = plain_service._signed_only(standing(ledger, policy, ledger.resolve(key, policy), on),
                                        who.agency)
        plain.append(decision_data(policy, st, decide(st, action)))
    ledger.audit(who.actor, "decisions", None, {"asks": len(sample)})
    plain_rate = len(sample) / (time.perf_counter() - t0)

    print(f"\nIn process: Service.decisions, {len(subjects):,} subjects, {len(actions)} actions, "
          f"date {ON}")
    rows = []
    service = Service(ledger, policy)
    cold, out = timed(service, asks)
    same = out[:len(sample)] == plain
    rows.append((f"batch of {len(asks):,} random asks, cold", len(asks), cold))
    warm = min(timed(service, asks)[0] for _ in range(3))
    rows.append((f"batch of {len(asks):,} random asks, warm", len(asks), warm))
    service = Service(ledger, policy)
    cold_s = timed(service, screening)[0]
    rows.append((f"screening {len(subjects):,} × {len(actions)} = {len(screening):,}, cold",
                 len(screening), cold_s))
    warm_s = min(timed(service, screening)[0] for _ in range(3))
    rows.append((f"screening {len(subjects):,} × {len(actions)} = {len(screening):,}, warm",
                 len(screening), warm_s))
    print(f"{'per ask, uncached (as before), 500 asks':<46} {plain_rate:10,.0f} decisions/s")
    for name, n, dt in rows:
        print(f"{name:<46} {n / dt:10,.0f} decisions/s   ({dt * 1e3:7.1f} ms; "
              f"{n / dt / plain_rate:5.0f}× per-ask uncached)")
    print(f"same decisions as the uncached path on the first 500 asks: {same}")
    print(f"audit log verifies: {ledger.verify().ok}")
    ledger.dispose()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0, help="per kind and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--batch", type=int, default=100, help="asks per HTTP batch")
    ap.add_argument("--asks", type=int, default=10_000, help="asks per in-process batch")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="xy-bench-service-"))
    try:
        t0 = time.perf_counter()
        url, token, subjects, actions = build(folder)
        print(f"setup: {time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores")
        if not args.skip_http:
            http(url, token, subjects, actions, args)
        in_process(url, subjects, actions, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
