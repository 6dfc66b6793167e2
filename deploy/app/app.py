"""A PATAS-shaped app for the deployment tests: what PATAS does with its secrets, nothing else.

It reads its settings from the environment with pydantic's BaseSettings, refuses to start in
production with PATAS's own messages, authenticates every request by API_KEYS
("key:namespace,..."), runs a query over DATABASE_URL (asyncpg, a real PostgreSQL) on an
authenticated endpoint, and serves /health. Started through `patas-secrets exec`:
  restart mode (the default): a changed env file restarts it with the new environment (with
  exec --listen and `--fd 3` here, on the socket exec holds, so clients wait, never refused);
  reload mode (exec --signal SIGHUP): it re-reads $PATAS_ENV_FILE and swaps its settings and
  its connection pool in place, keeping the old ones when the new ones do not work.
Never logs a value: only counts and names.
"""

import asyncio
import os
import signal
import sys
from typing import Optional

import asyncpg
import uvicorn
from dotenv import dotenv_values
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseSettings


class Settings(BaseSettings):
    environment: str = "development"
    api_keys: str = ""
    database_url: str = ""
    llm_provider: str = "openai"
    llm_api_key: Optional[str] = None
    openai_api_key: Optional[str] = None
    embedding_api_key: Optional[str] = None

    def problems(self):
        probs = []
        if self.environment == "production" and not self.api_keys:
            probs.append("API_KEYS must be configured in production")
        if self.llm_provider.lower() == "openai" and not (self.llm_api_key or self.openai_api_key):
            probs.append("LLM_API_KEY required when using OpenAI LLM provider")
        if self.environment == "production" and not self.database_url:
            probs.append("DATABASE_URL must be configured in production")
        return probs

    def keys(self):
        """API_KEYS as {key: namespace}."""
        out = {}
        for item in self.api_keys.split(","):
            key, _, ns = item.strip().partition(":")
            if key:
                out[key] = ns or "default"
        return out

    def dsn(self):
        # PATAS's URL names SQLAlchemy's driver (postgresql+asyncpg://); asyncpg wants postgresql://.
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def log(msg, **fields):
    print(msg, *(f"{k}={v}" for k, v in fields.items()), file=sys.stderr, flush=True)


state = {"settings": Settings(), "pool": None, "reloads": 0}
app = FastAPI()


async def open_pool(settings):
    if not settings.database_url:
        return None
    # Every connection opened up front: between an ALTER ROLE and the reload that brings the
    # new password, a connection opened with the old one would fail.
    return await asyncpg.create_pool(settings.dsn(), min_size=4, max_size=4, timeout=5)


async def reload():
    """Reload mode: the env file's values replace the settings, if they pass the checks."""
    path = os.environ.get("PATAS_ENV_FILE")
    if not path:
        return
    fields = {k.lower(): v for k, v in dotenv_values(path).items() if k.lower() in Settings.__fields__}
    new = Settings(**fields)
    old = state["settings"]
    if new == old:
        return
    if probs := new.problems():
        log("reload refused; keeping the current settings", problems=len(probs))
        return
    pool = state["pool"]
    if new.database_url != old.database_url or pool is None:
        try:
            pool = await open_pool(new)
        except Exception as e:  # the old pool keeps serving
            log("reload: the new DATABASE_URL does not connect; keeping the old one", error=type(e).__name__)
            return
    old_pool = state["pool"]
    state.update(settings=new, pool=pool, reloads=state["reloads"] + 1)
    log("settings reloaded", api_keys=len(new.keys()), reloads=state["reloads"])
    if old_pool is not None and old_pool is not pool:
        # Requests that took the old pool before the swap may still be acquiring from it.
        await asyncio.sleep(5)
        await old_pool.close()  # waits for the requests that hold its connections


@app.on_event("startup")
async def startup():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
    try:
        state["pool"] = await open_pool(state["settings"])
    except Exception as e:  # the database may start after us; requests retry
        log("database not reachable yet", error=type(e).__name__)
    await reload()  # a SIGHUP that came before the handler was installed


@app.get("/health")
@app.get("/healthz")
async def health():
    return {"status": "ok"}


@app.get("/api/v1/whoami")
async def whoami(x_api_key: str = Header("")):
    settings = state["settings"]
    namespace = settings.keys().get(x_api_key)
    if namespace is None:
        raise HTTPException(status_code=401, detail="invalid API key")
    if state["pool"] is None:
        try:
            state["pool"] = await open_pool(settings)
        except Exception as e:
            raise HTTPException(status_code=503, detail="database unavailable: " + type(e).__name__)
    row = await state["pool"].fetchrow("SELECT current_user AS db_user, count(*) AS sessions FROM pg_stat_activity")
    return {"namespace": namespace, "db_user": row["db_user"], "sessions": row["sessions"], "pid": os.getpid(),
            "reloads": state["reloads"]}


def main():
    settings = state["settings"]
    if probs := settings.problems():
        title = "Production configuration errors:" if settings.environment == "production" else "Configuration errors:"
        print(title + "".join("\n  - " + p for p in probs), file=sys.stderr, flush=True)
        if settings.environment == "production":
            sys.exit(1)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until startup installs the reload handler
    log("starting", environment=settings.environment, api_keys=len(settings.keys()), pid=os.getpid())
    # --fd N: serve the socket handed over as file descriptor N (patas-secrets exec --listen),
    # as `uvicorn --fd N` does; else bind HOST:PORT.
    where = {"fd": int(sys.argv[sys.argv.index("--fd") + 1])} if "--fd" in sys.argv else \
        {"host": os.environ.get("HOST", "0.0.0.0"), "port": int(os.environ.get("PORT", "8000"))}
    uvicorn.run(app, log_level="warning", access_log=False, **where)


if __name__ == "__main__":
    main()
