#!/usr/bin/env python3
"""Fleet load by simulation (issue 18 part 5): N real patas-secrets sidecars (`run`, separate
processes of the stripped static binary, default refresh interval and jitter) against one
Vault dev server and one moto, each through a counting proxy that records every request's
second. Reports backend requests per second: during the fleet's start (every pod starting at
once, a rollout), at steady state, and around a rotation of every secret that each sidecar
sees (at its next poll); peak over mean.

Each sidecar reads the guide's 6 variables from one KV v2 secret (Vault) and 2 secrets
from AWS Secrets Manager (one BatchGetSecretValue per refresh), API_KEYS with `overlap: 60s`.

  python3 bench/fleet.py --bin BIN --vault VAULT --moto MOTO_SERVER [--n 1000] [--steady 330]

Prints one JSON object on stdout. Standard library only, plus boto3 (moto's dependency).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import CountingProxy, Moto, Servers, Vault, log  # noqa: E402


class Timeline:
    """Wraps a CountingProxy: requests per whole second since start, by backend."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.t0 = time.time()
        self.per_s = {}
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stop.wait(1.0):
            n = sum(self.proxy.take().values())
            self.per_s[int(time.time() - self.t0)] = n

    def window(self, a, b):
        return [self.per_s.get(s, 0) for s in range(int(a), int(b))]


def summary(xs):
    if not xs:
        return {}
    mean = statistics.mean(xs)
    return {"seconds": len(xs), "requests": sum(xs), "mean_rps": round(mean, 2), "peak_rps": max(xs),
            "peak_over_mean": round(max(xs) / mean, 2) if mean else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--vault", default="", help="the Vault binary; empty: AWS only")
    ap.add_argument("--moto", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steady", type=float, default=330, help="seconds of steady state (>= one interval + jitter)")
    ap.add_argument("--after", type=float, default=360, help="seconds observed after the rotation")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="patas-fleet-")
    servers = Servers(tmp)
    procs = []
    vault = None
    res = {"n": args.n, "interval": "5m (default)", "jitter": "10% (default)", "mode": "processes"}
    try:
        vault = Vault(servers, args.vault) if args.vault else None
        moto = Moto(servers, args.moto)
        keys = {"DATABASE_URL": "postgresql://patas:pw@db/patas", "REDIS_URL": "redis://cache:6379/0",
                "API_KEYS": "k1,k2", "LLM_API_KEY": "sk-1", "JWT_SECRET": "j" * 32, "SMTP_PASSWORD": "pw"}
        moto.put("patas/stripe", "sk_live_1")
        moto.put("patas/sentry", "dsn-1")
        pa = CountingProxy(moto.url)
        ta = Timeline(pa)
        lines = ["environment: development", "backends:",
                 f"  a: {{type: aws, region: us-east-1, endpoint: {json.dumps(pa.url)}}}"]
        if vault:
            vault.put("patas", keys)
            pv = CountingProxy(vault.url)
            tv = Timeline(pv)
            tv.t0 = ta.t0
            lines.append(f"  v: {{type: vault, address: {json.dumps(pv.url)}}}")
        else:
            res["vault_skipped"] = "no Vault binary"
            tv = ta  # the AWS timeline stands in; its vault figures are dropped below
        lines.append("secrets:")
        for k in keys if vault else ():
            lines.append(f"  - env: {k}\n    ref: 'v:secret/patas#{k}'" + ("\n    overlap: 60s" if k == "API_KEYS" else ""))
        lines += ["  - env: STRIPE_KEY\n    ref: 'a:patas/stripe'", "  - env: SENTRY_DSN\n    ref: 'a:patas/sentry'"]
        lines += ["outputs: [{format: dotenv, path: OUT, mode: \"0600\"}]"]
        # Each pod has its own loopback in a cluster; here they share one: a free port each.
        lines += ['listen: "127.0.0.1:0"']
        text = "\n".join(lines) + "\n"
        env = dict(os.environ, VAULT_TOKEN="root", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", GOMAXPROCS="1")
        for k in ("GOMEMLIMIT", "GOGC", "VAULT_ADDR", "AWS_PROFILE", "AWS_ENDPOINT_URL", "GODEBUG"):
            env.pop(k, None)

        log(f"fleet: starting {args.n} sidecars")
        t_start = time.time() - tv.t0
        for i in range(args.n):
            d = os.path.join(tmp, f"pod{i:04d}")
            os.mkdir(d)
            c = os.path.join(d, "patas.yaml")
            with open(c, "w") as f:
                f.write(text.replace("OUT", json.dumps(os.path.join(d, "app.env"))))
            procs.append(subprocess.Popen([args.bin, "run", "--config", c, "--log-level", "error"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d))
        t_spawned = time.time() - tv.t0
        # Every sidecar has written its output once: the start is over.
        while True:
            done = sum(os.path.exists(os.path.join(tmp, f"pod{i:04d}", "app.env")) for i in range(args.n))
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                raise SystemExit(f"fleet: {len(dead)} sidecars exited (first: {dead[0].returncode})")
            if done == args.n:
                break
            time.sleep(1)
        t_ready = time.time() - tv.t0
        res["start"] = {"spawn_s": round(t_spawned - t_start, 1), "all_written_s": round(t_ready - t_start, 1),
                        "vault": summary(tv.window(t_start, t_ready + 1)), "aws": summary(ta.window(t_start, t_ready + 1))}
        rss = []
        for p in procs[:: max(1, args.n // 50)]:
            with open(f"/proc/{p.pid}/status") as f:
                m = {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmRSS", "RssAnon"))}
            rss.append(m)
        res["sidecar_rss_kib"] = {"median_rss": int(statistics.median(r["VmRSS"] for r in rss)),
                                  "median_anon": int(statistics.median(r["RssAnon"] for r in rss))}
        log(f"fleet: all written after {t_ready - t_start:.0f}s; steady state {args.steady}s")
        # Steady state starts after the first interval's worth of start-up jitter has passed:
        # measure [ready + 30 s, ready + 30 s + steady).
        time.sleep(30 + args.steady)
        s0, s1 = t_ready + 30, t_ready + 30 + args.steady
        res["steady"] = {"vault": summary(tv.window(s0, s1)), "aws": summary(ta.window(s0, s1))}

        log(f"fleet: rotating every secret; observing {args.after}s")
        t_rot = time.time() - tv.t0
        keys["API_KEYS"] = "k2,k3"
        if vault:
            vault.put("patas", keys)
        moto.put("patas/stripe", "sk_live_2")
        # Every sidecar sees it at its next poll: wait until every output has the new key.
        deadline = time.time() + args.after
        while time.time() < deadline:
            seen = 0
            for i in range(args.n):
                try:
                    with open(os.path.join(tmp, f"pod{i:04d}", "app.env")) as f:
                        seen += "sk_live_2" in f.read()
                except OSError:
                    pass
            if seen == args.n:
                break
            time.sleep(2)
        t_seen = time.time() - tv.t0
        time.sleep(max(0, deadline - time.time()))
        t_end = time.time() - tv.t0
        res["rotation"] = {"all_seen_s": round(t_seen - t_rot, 1), "seen": seen,
                           "vault": summary(tv.window(t_rot, t_end)), "aws": summary(ta.window(t_rot, t_end))}
        res["per_second"] = {"vault": [tv.per_s.get(s, 0) for s in range(int(t_end))],
                             "aws": [ta.per_s.get(s, 0) for s in range(int(t_end))],
                             "marks": {"start": round(t_start), "ready": round(t_ready), "rotation": round(t_rot)}}
        tv.stop.set()
        ta.stop.set()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if not vault:
        for ph in ("start", "steady", "rotation"):
            res.get(ph, {}).pop("vault", None)
        res.get("per_second", {}).pop("vault", None)
    json.dump(res, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
