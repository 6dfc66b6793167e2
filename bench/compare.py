#!/usr/bin/env python3
"""Side by side (issue 18): patas-secrets (one or more builds), consul-template and Vault
Agent on the same Vault dev server, the same secret (the guide's 6 keys in one KV v2 secret)
and the same files, in alternating runs: each round runs every contender once, in an order
that rotates, so that load from other processes on the machine spreads over all of them.
Figures are medians over the rounds; ratios are to consul-template. Run by bench/run.sh.

Prints one JSON object on stdout. Standard library only.
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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Servers, Vault, log, proc_sample, timed_run, wait_file  # noqa: E402

KEYS = {  # the guide's variables, values shaped like real ones
    "DATABASE_URL": "postgresql+asyncpg://patas:pw-1@db:5432/patas",
    "REDIS_URL": "redis://cache:6379/0",
    "API_KEYS": "k-one,k-two,k-three",
    "LLM_API_KEY": "sk-0123456789abcdef",
    "JWT_SECRET": "0123456789abcdef0123456789abcdef",
    "SMTP_PASSWORD": "smtp-pw",
}


def vault_call(v, method, path, body=None):
    v.conn.request(method, "/v1/" + path, json.dumps(body) if body is not None else None, {"X-Vault-Token": "root"})
    r = v.conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"bench: vault {method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else {}


def setup(tmp, vault):
    """Writes every contender's config (the Vault ones only with a vault); returns the
    configs by name and consul-template's two templates."""
    fdir = os.path.join(tmp, "files")
    os.mkdir(fdir)
    for k, v in KEYS.items():
        with open(os.path.join(fdir, k), "w") as f:
            f.write(v)
    cfg = {}
    cfg["patas-file"] = patas_cfg(tmp, "patas-file", {"type": "file", "dir": fdir}, lambda k: f"b:{k}", "5m")
    ct_file = os.path.join(tmp, "ct-file.ctmpl")
    with open(ct_file, "w") as f:
        f.write("".join(f'{k}={{{{ file "{os.path.join(fdir, k)}" }}}}\n' for k in KEYS))
    if vault is None:
        return cfg, None, ct_file
    vault.put("patas", KEYS)
    # Vault Agent authenticates itself (auto_auth is mandatory for its templates): AppRole.
    vault_call(vault, "POST", "sys/auth/approle", {"type": "approle"})
    vault_call(vault, "POST", "sys/policy/bench", {"policy": 'path "secret/data/*" { capabilities = ["read"] }'})
    vault_call(vault, "POST", "auth/approle/role/bench", {"token_policies": "bench", "token_ttl": "1h"})
    role_id = vault_call(vault, "GET", "auth/approle/role/bench/role-id")["data"]["role_id"]
    secret_id = vault_call(vault, "POST", "auth/approle/role/bench/secret-id", {})["data"]["secret_id"]
    for name, val in (("role_id", role_id), ("secret_id", secret_id)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(val)

    cfg["patas-vault"] = patas_cfg(tmp, "patas-vault", {"type": "vault", "address": vault.url}, lambda k: f"b:secret/patas#{k}", "5m")
    ct_vault = os.path.join(tmp, "ct-vault.ctmpl")
    with open(ct_vault, "w") as f:
        f.write('{{ with secret "secret/data/patas" }}' + "".join(f"{k}={{{{ .Data.data.{k} }}}}\n" for k in KEYS) + "{{ end }}")

    def agent_cfg(name, exit_after_auth):
        out = os.path.join(tmp, name + ".env")
        path = os.path.join(tmp, name + ".hcl")
        with open(path, "w") as f:
            f.write(f'''vault {{ address = "{vault.url}" }}
auto_auth {{
  method "approle" {{
    config = {{
      role_id_file_path = "{tmp}/role_id"
      secret_id_file_path = "{tmp}/secret_id"
      remove_secret_id_file_after_reading = false
    }}
  }}
}}
template_config {{ exit_on_retry_failure = true }}
template {{
  source = "{ct_vault}"
  destination = "{out}"
}}
exit_after_auth = {str(exit_after_auth).lower()}
''')
        return path, out

    cfg["agent-once"] = agent_cfg("agent-once", True)
    cfg["agent-run"] = agent_cfg("agent-run", False)
    return cfg, ct_vault, ct_file


def patas_cfg(tmp, name, backend, ref, interval):
    lines = ["environment: development", "backends:", "  b: " + json.dumps(backend), "secrets:"]
    lines += [f"  - env: {k}\n    ref: '{ref(k)}'" for k in KEYS]
    out = os.path.join(tmp, name + ".env")
    lines += [f"outputs: [{{format: dotenv, path: {json.dumps(out)}, mode: \"0600\"}}]",
              f"refresh: {{interval: {interval}, watch: false, max_staleness: 2h}}",
              'listen: "127.0.0.1:0"']  # several sidecars at once: a free port each
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, out


def median(xs):
    return round(statistics.median(xs), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", default=[],
                    help="NAME=PATH[@vault,file] of a patas-secrets build and the backends it has (default both); the first is the default build")
    ap.add_argument("--vault", default="", help="the Vault binary; empty: files only, no Vault Agent")
    ap.add_argument("--consul-template", required=True)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--settle", type=float, default=20)
    args = ap.parse_args()
    builds, has = {}, {}
    for spec in args.build:
        name, path = spec.split("=", 1)
        path, _, bk = path.partition("@")
        builds[name], has[name] = path, set((bk or "vault,file").split(","))
        if not args.vault:
            has[name].discard("vault")
    default = args.build[0].split("=", 1)[0]

    tmp = tempfile.mkdtemp(prefix="patas-compare-")
    servers = Servers(tmp)
    res = {"rounds": args.rounds, "settle_s": args.settle}
    try:
        env = dict(os.environ, VAULT_TOKEN="root", AWS_EC2_METADATA_DISABLED="true")
        for k in ("GOMEMLIMIT", "GOGC", "VAULT_ADDR", "GODEBUG"):
            env.pop(k, None)
        vault = Vault(servers, args.vault) if args.vault else None
        cfg, ct_vault, ct_file = setup(tmp, vault)
        ct = args.consul_template
        ct_common = [ct, "-once", "-log-level=err", "-vault-renew-token=false"]
        if vault:
            ct_common.append(f"-vault-addr={vault.url}")

        # Each case: argv, and the file and text that prove the run did the work.
        cases = {"consul-template/start-up": ([ct, "-version"], None),
                 "consul-template/once-file": (ct_common + [f"-template={ct_file}:{tmp}/ct-file.env"], f"{tmp}/ct-file.env")}
        if vault:
            cases["consul-template/once-vault"] = (ct_common + [f"-template={ct_vault}:{tmp}/ct-vault.env"], f"{tmp}/ct-vault.env")
            cases["vault-agent/once-vault"] = ([args.vault, "agent", "-log-level=error", "-config", cfg["agent-once"][0]], cfg["agent-once"][1])
        for b, path in builds.items():
            cases[f"{b}/start-up"] = ([path, "version"], None)
            if "vault" in has[b]:
                cases[f"{b}/once-vault"] = ([path, "once", "--config", cfg["patas-vault"][0], "--log-level", "error"], cfg["patas-vault"][1])
            if "file" in has[b]:
                cases[f"{b}/once-file"] = ([path, "once", "--config", cfg["patas-file"][0], "--log-level", "error"], cfg["patas-file"][1])
        names = list(cases)
        walls = {n: [] for n in names}
        rss = {n: [] for n in names}
        for argv, out in cases.values():  # warm the page cache, and check each does its work
            timed_run(argv, env)
            if out:
                with open(out) as f:
                    assert "sk-0123456789abcdef" in f.read(), out
                os.unlink(out)
        log(f"compare: {len(names)} cases x {args.rounds} alternating rounds")
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            if r % 2:
                order.reverse()
            for n in order:
                w, m = timed_run(cases[n][0], env)
                walls[n].append(w * 1000)
                rss[n].append(m)
        res["wall_ms"] = {n: median(walls[n]) for n in names}
        res["wall_ms_min"] = {n: round(min(walls[n]), 2) for n in names}
        res["peak_rss_kib"] = {n: int(statistics.median(rss[n])) for n in names}

        # Sidecars, all running at once on the same Vault (same load for each): RSS after settle.
        # Without Vault, every sidecar reads the files (consul-template through {{ file }}).
        side = {"consul-template": ct_common[:1] + ct_common[2:] + [f"-template={ct_vault or ct_file}:{tmp}/ct-side.env"]}
        if vault:
            side["vault-agent"] = [args.vault, "agent", "-log-level=error", "-config", cfg["agent-run"][0]]
        for b, path in builds.items():  # a build without Vault runs the file config
            which = "patas-vault" if "vault" in has[b] else "patas-file"
            side[b] = [path, "run", "--config", cfg[which][0] + "." + b, "--log-level", "error"]
            with open(cfg[which][0]) as f, open(cfg[which][0] + "." + b, "w") as g:
                g.write(f.read().replace(cfg[which][1], cfg[which][1] + "." + b))
        procs = {n: subprocess.Popen(a, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n, a in side.items()}
        try:
            for b in builds:
                wait_file(cfg["patas-vault" if "vault" in has[b] else "patas-file"][1] + "." + b, "sk-0123456789abcdef", timeout=60)
            wait_file(f"{tmp}/ct-side.env", "sk-0123456789abcdef", timeout=60)
            if vault:
                wait_file(cfg["agent-run"][1], "sk-0123456789abcdef", timeout=60)
            log(f"compare: sidecars settling {args.settle}s")
            time.sleep(args.settle)
            res["sidecar"] = {}
            for n, p in procs.items():
                if p.poll() is not None:
                    raise SystemExit(f"bench: sidecar {n} exited {p.returncode}")
                _, m = proc_sample(p.pid)
                res["sidecar"][n] = {"rss_kib": m["VmRSS"], "anon_kib": m["RssAnon"], "file_kib": m["RssFile"],
                                     "backend": "vault" if vault and (n not in has or "vault" in has[n]) else "file"}
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()

        # Start-up work: packages with an init, and their total, from the runtime's trace.
        res["inits"] = {}
        for n, argv in [("consul-template", [ct, "-version"])] + [(b, [p, "version"]) for b, p in builds.items()]:
            counts, ms = [], []
            for _ in range(5):
                p = subprocess.run(argv, env=dict(env, GODEBUG="inittrace=1"), capture_output=True, text=True)
                lines = [l.split() for l in p.stderr.splitlines() if l.startswith("init ")]
                counts.append(len(lines))
                ms.append(sum(float(l[4]) for l in lines))
            res["inits"][n] = {"packages": max(counts), "ms": median(ms)}

        res["size_bytes"] = {n: os.path.getsize(p) for n, p in builds.items()}
        res["size_bytes"]["consul-template"] = os.path.getsize(ct)
        if vault:
            res["size_bytes"]["vault-agent"] = os.path.getsize(args.vault)
        res["sidecar_backend"] = "vault" if vault else "file"
        res["default"] = default
        res["build_names"] = list(builds)
        res["load"] = " ".join(open("/proc/loadavg").read().split()[:3])
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    json.dump(res, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
