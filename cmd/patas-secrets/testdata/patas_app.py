"""A stand-in for the PATAS API, for the rotation end-to-end test.

Like PATAS it reads its settings from the environment with pydantic-settings, API_KEYS
being "key1:namespace1,key2:namespace2", and refuses a request whose X-API-Key is not one
of them. It serves GET / on 127.0.0.1:PORT (argv[1]) with {"namespace", "pid"}, and writes
its pid to argv[2] when given (for the sidecar's pidfile notifier).

SIGTERM stops it cleanly (exit 0). SIGHUP reloads the settings from the env file that
patas-secrets exec names in PATAS_SECRETS_ENV_FILE (read with python-dotenv, as PATAS
reads .env files), which is what `exec --signal SIGHUP` relies on. It never prints a key.
"""

import hmac
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dotenv import dotenv_values
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    api_keys: str


def parse_keys(value):
    keys = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, namespace = item.partition(":")
        keys[key] = namespace or "default"
    return keys


KEYS = parse_keys(Settings().api_keys)


def reload(*_):
    global KEYS
    path = os.environ.get("PATAS_SECRETS_ENV_FILE")
    if not path:
        return
    os.environ.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    KEYS = parse_keys(Settings().api_keys)
    print("reloaded settings", flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        given = self.headers.get("X-API-Key", "")
        namespace = None
        for key, ns in KEYS.items():
            if hmac.compare_digest(key.encode(), given.encode()):
                namespace = ns
        if namespace is None:
            self.reply(401, {"error": "invalid API key"})
        else:
            self.reply(200, {"namespace": namespace, "pid": os.getpid()})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    if len(sys.argv) > 2:
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    signal.signal(signal.SIGHUP, reload)
    print("serving", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
