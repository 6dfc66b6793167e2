#!/usr/bin/env python3
"""The measurements of bench/run.sh (run that, not this): once, sidecar, propagation and API
calls per refresh against a real Vault dev server, moto and a file directory, every server on
a loopback port started and stopped here. Prints one JSON object of figures on stdout.

Standard library only, plus boto3 (moto's own dependency) to seed moto.
"""

import argparse
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    u = urllib.parse.urlparse(url)
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
            c.request("GET", u.path or "/")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: {url} did not answer in {timeout}s")


# ---------------------------------------------------------------- servers


class Servers:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, argv, env=None, name="server"):
        logf = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


class Vault:
    def __init__(self, servers, binary):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers.start([binary, "server", "-dev", "-dev-root-token-id=root",
                       f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token"], name="vault")
        wait_http(self.url + "/v1/sys/health")
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def put(self, path, data):
        body = json.dumps({"data": data})
        try:
            self.conn.request("POST", "/v1/secret/data/" + path, body, {"X-Vault-Token": "root"})
            r = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # Vault closes an idle keep-alive connection (the fleet's rotation comes after
            # minutes of steady state): once more on a new one.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.conn.request("POST", "/v1/secret/data/" + path, body, {"X-Vault-Token": "root"})
            r = self.conn.getresponse()
        r.read()
        if r.status >= 300:
            raise SystemExit(f"bench: vault put {path}: {r.status}")


class Moto:
    def __init__(self, servers, binary):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers.start([binary, "-H", "127.0.0.1", "-p", str(self.port)], name="moto")
        wait_http(self.url + "/moto-api/")
        import boto3
        self.sm = boto3.client("secretsmanager", endpoint_url=self.url, region_name="us-east-1",
                               aws_access_key_id="test", aws_secret_access_key="test")

    def put(self, name, value):
        try:
            self.sm.put_secret_value(SecretId=name, SecretString=value)
        except self.sm.exceptions.ResourceNotFoundException:
            self.sm.create_secret(Name=name, SecretString=value)


class CountingProxy:
    """Forwards every request to upstream and counts them by operation: the X-Amz-Target
    header (AWS JSON APIs) or METHOD and path, with the bench secret's name replaced by *."""

    def __init__(self, upstream):
        u = urllib.parse.urlparse(upstream)
        self.counts = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _do(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                op = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
                op = "/".join("*" if seg.startswith("n") and seg[1:].isdigit() else seg for seg in op.split("/"))
                with proxy.lock:
                    proxy.counts[op] = proxy.counts.get(op, 0) + 1
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                c.request(self.command, self.path, body, headers)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _do

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self):
        with self.lock:
            c, self.counts = self.counts, {}
        return c

    def close(self):
        self.server.shutdown()


# ---------------------------------------------------------------- configs


def write_config(path, backend, n, out, interval="1h", watch=False, dup=False):
    if backend["type"] == "file":
        ref = lambda i: f"b:n{i:04d}"
        tref = ref(0)
    elif backend["type"] == "vault":
        ref = lambda i: f"b:secret/bench/n{i:04d}#value"
        tref = ref(0)
    else:
        ref = lambda i: f"b:bench/n{i:04d}"
        tref = ref(0)
    lines = ["environment: development", "backends:", "  b: " + json.dumps(backend), "secrets:"]
    for i in range(n):
        lines += [f"  - env: V{i:04d}", f"    ref: '{ref(i)}'"]
    if dup:  # the same secret again, through a template: still one read
        lines += ["  - env: AGAIN", "    template: 'x{{ secret \"" + tref + "\" }}'"]
    lines += [f"outputs: [{{format: dotenv, path: {json.dumps(out)}, mode: \"0600\"}}]",
              f"refresh: {{interval: {interval}, jitter: 0%, watch: {str(watch).lower()}, max_staleness: 2h}}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- measurements


def timed_run(argv, env):
    """Wall time (s) and peak RSS (KiB) of one run; exits on failure. The peak comes from
    /usr/bin/time: a child forked from this Python process would report Python's own RSS as
    its maximum (the kernel keeps the larger of the pre-exec and post-exec peaks)."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + argv, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv)} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
        rss = int(tf.read().split()[-1])
    return wall, rss


def median_runs(argv, env, runs):
    timed_run(argv, env)  # warm the page cache and the server
    walls, rss = [], []
    for _ in range(runs):
        w, r = timed_run(argv, env)
        walls.append(w)
        rss.append(r)
    return {"wall_ms": round(statistics.median(walls) * 1000, 1), "wall_ms_min": round(min(walls) * 1000, 1),
            "rss_kib": int(statistics.median(rss)), "runs": runs}


def proc_sample(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    ticks = int(st[11]) + int(st[12])  # utime + stime
    mem = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                mem[k] = int(v.split()[0])
    return ticks, mem


def wait_file(path, want, timeout=10.0, step=0.0005):
    t0 = time.perf_counter()
    while True:
        try:
            with open(path) as f:
                if want in f.read():
                    return time.perf_counter() - t0
        except FileNotFoundError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"bench: {path} never contained the new value")
        time.sleep(step)


class Sidecar:
    def __init__(self, binary, config, env, out):
        self.p = subprocess.Popen([binary, "run", "--config", config, "--log-level", "error"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_file(out, "V0000=", timeout=120)

    def settle_and_measure(self, settle, window):
        time.sleep(settle)
        t1, m1 = proc_sample(self.p.pid)
        time.sleep(window)
        t2, m2 = proc_sample(self.p.pid)
        return {"cpu_ms_per_s": round((t2 - t1) * 1000 / TICK / window, 2), "cpu_ticks": t2 - t1,
                "window_s": window, "rss_kib": m2["VmRSS"], "anon_kib": m2["RssAnon"],
                "file_kib": m2["RssFile"], "hwm_kib": m2["VmHWM"]}

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(10)


def settle_counts(proxy, started=True, quiet=1.0, timeout=60):
    """Waits until the proxy has seen no request for quiet seconds (after the first one
    when started is False) and returns the counts so far, without taking them."""
    deadline = time.time() + timeout
    last, since = None, time.time()
    while time.time() < deadline:
        with proxy.lock:
            now = dict(proxy.counts)
        if now != last:
            last, since = now, time.time()
        elif (started or now) and time.time() - since >= quiet:
            return now
        time.sleep(0.05)
    raise SystemExit("bench: requests did not settle")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--vault", required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--consul-template", default="")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--changes", type=int, default=30)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="patas-bench-")
    servers = Servers(tmp)
    res = {}
    try:
        env = dict(os.environ, VAULT_TOKEN="root", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
        for k in ("GOMEMLIMIT", "GOGC", "VAULT_ADDR", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.pop(k, None)
        sizes = [1, 6, 20, 100, 1000]
        log("starting Vault and moto, seeding", max(sizes), "secrets each")
        vault = Vault(servers, args.vault)
        moto = Moto(servers, args.moto)
        fdir = os.path.join(tmp, "files")
        os.mkdir(fdir)
        for i in range(max(sizes)):
            vault.put(f"bench/n{i:04d}", {"value": f"v-{i:04d}"})
            moto.put(f"bench/n{i:04d}", f"a-{i:04d}")
            with open(os.path.join(fdir, f"n{i:04d}"), "w") as f:
                f.write(f"f-{i:04d}")
        backends = {
            "file": {"type": "file", "dir": fdir},
            "vault": {"type": "vault", "address": vault.url},
            "aws": {"type": "aws", "region": "us-east-1", "endpoint": moto.url},
        }

        # once: wall time and peak RSS; `version` is the start-up alone
        res["once"] = {}
        log(f"version x{args.runs}")
        res["once"]["version"] = median_runs([args.bin, "version"], env, args.runs)
        for name, b in backends.items():
            for n in (6, 100):
                cfg = write_config(os.path.join(tmp, f"once-{name}-{n}.yaml"), b, n, os.path.join(tmp, f"out-{name}-{n}.env"))
                log(f"once {name} {n} x{args.runs}")
                res["once"][f"{name}-{n}"] = median_runs([args.bin, "once", "--config", cfg, "--log-level", "error"], env, args.runs)

        # consul-template -once on the same data: KV v2 template of the same variables
        if args.consul_template:
            res["consul_template"] = {}
            for n in (6, 100):
                tpl = os.path.join(tmp, f"ct-{n}.ctmpl")
                with open(tpl, "w") as f:
                    for i in range(n):
                        f.write(f'V{i:04d}={{{{ with secret "secret/data/bench/n{i:04d}" }}}}{{{{ .Data.data.value }}}}{{{{ end }}}}\n')
                out = os.path.join(tmp, f"ct-{n}.env")
                argv = [args.consul_template, "-once", "-log-level=err", f"-vault-addr={vault.url}",
                        "-vault-renew-token=false", f"-template={tpl}:{out}"]
                log(f"consul-template -once {n} x{args.runs}")
                res["consul_template"][f"vault-{n}"] = median_runs(argv, env, args.runs)
                with open(out) as f:
                    assert "V0000=v-0000" in f.read()

        # sidecar: settled RSS and CPU, idle (1h interval) and refreshing every second
        res["sidecar"] = {}
        cases = [("file-idle", "file", "1h", {}), ("vault-idle", "vault", "1h", {}),
                 ("vault-1s", "vault", "1s", {}), ("aws-1s", "aws", "1s", {}),
                 ("vault-1s-gomemlimit", "vault", "1s", {"GOMEMLIMIT": "8MiB"})]
        for label, name, interval, extra in cases:
            out = os.path.join(tmp, f"side-{label}.env")
            cfg = write_config(os.path.join(tmp, f"side-{label}.yaml"), backends[name], 6, out, interval=interval,
                               watch=(name == "file"))
            log(f"sidecar {label}: settle {args.settle}s, window {args.window}s")
            s = Sidecar(args.bin, cfg, dict(env, **extra), out)
            try:
                res["sidecar"][label] = s.settle_and_measure(args.settle, args.window)
            finally:
                s.stop()

        # propagation: a source change to the rewritten output, through the binary
        res["propagation"] = {}
        out = os.path.join(tmp, "prop-file.env")
        cfg = write_config(os.path.join(tmp, "prop-file.yaml"), backends["file"], 6, out, interval="1h", watch=True)
        log(f"propagation file watch x{args.changes}")
        s = Sidecar(args.bin, cfg, env, out)
        lat = []
        try:
            time.sleep(1)
            for k in range(args.changes):
                val = f"w-{k}-{time.time_ns()}"
                tmpf = os.path.join(fdir, ".n0000.tmp")
                t0 = time.perf_counter()
                with open(tmpf, "w") as f:
                    f.write(val)
                os.rename(tmpf, os.path.join(fdir, "n0000"))
                wait_file(out, val)
                lat.append(time.perf_counter() - t0)
                time.sleep(0.05)
        finally:
            s.stop()
        res["propagation"]["file-watch"] = {"median_ms": round(statistics.median(lat) * 1000, 1),
                                            "p90_ms": round(pct(lat, 0.9) * 1000, 1), "changes": len(lat)}
        out = os.path.join(tmp, "prop-vault.env")
        cfg = write_config(os.path.join(tmp, "prop-vault.yaml"), backends["vault"], 6, out, interval="1s")
        polls = max(10, args.changes // 3)
        log(f"propagation vault polling 1s x{polls}")
        s = Sidecar(args.bin, cfg, env, out)
        lat = []
        try:
            for k in range(polls):
                val = f"p-{k}-{time.time_ns()}"
                t0 = time.perf_counter()
                vault.put("bench/n0000", {"value": val})
                wait_file(out, val, step=0.002)
                lat.append(time.perf_counter() - t0)
                time.sleep((k % 7) * 0.13)  # land at different points of the interval
        finally:
            s.stop()
        res["propagation"]["vault-poll-1s"] = {"median_ms": round(statistics.median(lat) * 1000, 1),
                                               "p90_ms": round(pct(lat, 0.9) * 1000, 1), "changes": len(lat)}

        # API calls per refresh, through a counting proxy: one `once` is one refresh
        res["calls"] = {}
        for name in ("vault", "aws"):
            upstream = vault.url if name == "vault" else moto.url
            proxy = CountingProxy(upstream)
            b = dict(backends[name])
            b["address" if name == "vault" else "endpoint"] = proxy.url
            res["calls"][name] = {}
            for n in (1, 20, 100, 1000):
                cfg = write_config(os.path.join(tmp, f"calls-{name}-{n}.yaml"), b, n,
                                   os.path.join(tmp, f"calls-{name}-{n}.env"), dup=True)
                log(f"calls {name} {n}")
                proxy.take()
                w, r = timed_run([args.bin, "once", "--config", cfg, "--log-level", "error"], env)
                first = proxy.take()
                # A later refresh of a running sidecar: SIGHUP asks for exactly one.
                out = os.path.join(tmp, f"calls-{name}-{n}-run.env")
                cfg = write_config(os.path.join(tmp, f"calls-{name}-{n}-run.yaml"), b, n, out, dup=True)
                s = Sidecar(args.bin, cfg, env, out)
                try:
                    settle_counts(proxy)
                    proxy.take()
                    s.p.send_signal(signal.SIGHUP)
                    later = settle_counts(proxy, started=False)
                finally:
                    s.stop()
                res["calls"][name][str(n)] = {"once": first, "refresh": later, "wall_ms": round(w * 1000, 1), "rss_kib": r}
            if name == "vault" and args.consul_template:
                # consul-template's requests for the same reads, through the same proxy
                res["calls_consul_template"] = {}
                for n in (1, 20, 100):
                    tpl = os.path.join(tmp, f"calls-ct-{n}.ctmpl")
                    with open(tpl, "w") as f:
                        for i in range(n):
                            f.write(f'V{i:04d}={{{{ with secret "secret/data/bench/n{i:04d}" }}}}{{{{ .Data.data.value }}}}{{{{ end }}}}\n')
                    proxy.take()
                    timed_run([args.consul_template, "-once", "-log-level=err", f"-vault-addr={proxy.url}",
                               "-vault-renew-token=false", f"-template={tpl}:{tpl}.out"], env)
                    res["calls_consul_template"][str(n)] = proxy.take()
            proxy.close()
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    json.dump(res, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
