"""task=serve: the HTTP API over the published plan and the warehouse (forecasting.serving), on uvicorn.

Everything a wrong setting would break is checked before the server starts, each with one sentence and exit
status 2: the token's variable, the address and the port (bound here, then handed to uvicorn, so no other
program can take the port in between). FastAPI and uvicorn are imported only by this task: other runs do not
pay for them.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

from omegaconf import DictConfig

from forecasting.errors import InputError
from forecasting.pipeline.reforecast_task import PLAN_TEXT_COLUMNS

log = logging.getLogger(__name__)

MIN_TOKEN = 16  # characters: a shorter secret can be guessed over the network


def run_serve(cfg: DictConfig) -> dict:
    scfg = cfg.serve
    token = api_token(scfg)
    sock = bind(str(scfg.host), int(scfg.port))
    import uvicorn

    from forecasting.serving import ApiSettings, create_app
    from forecasting.serving.why import explainer

    settings = ApiSettings(
        publish_dir=Path(str(scfg.publish_dir)),
        warehouse=Path(str(scfg.warehouse)),
        token=token,
        text_columns=PLAN_TEXT_COLUMNS,
        page_size=int(scfg.page_size),
        max_page_size=max(int(scfg.max_page_size), int(scfg.page_size)),
        poll_seconds=float(scfg.poll_seconds),
        public_docs=bool(scfg.public_docs),
    )
    app = create_app(settings, enrich=explainer(settings.warehouse))
    # log_config=None: the run's logging (console and run.log, set up by Hydra) takes uvicorn's lines too.
    config = uvicorn.Config(app, log_config=None, access_log=bool(scfg.access_log), timeout_graceful_shutdown=5)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("serving %s on http://%s:%d (OpenAPI docs at /docs; token from $%s)", settings.publish_dir, shown, port,
             scfg.token_env)  # fmt: skip
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not a failure
        log.info("stopped")
    finally:
        sock.close()
    return {"value": 0.0, "task": "serve"}


def api_token(scfg: DictConfig) -> str:
    """The bearer token from the environment variable `serve.token_env` names; never from the config."""
    if "token" in scfg:
        raise InputError(
            "serve.token is not read: a token in a config file or on the command line ends up in run folders and "
            f"shell history; remove it and export {scfg.token_env}=<secret> instead."
        )
    name = str(scfg.token_env)
    token = os.environ.get(name, "").strip()
    if len(token) < MIN_TOKEN:
        state = "is not set" if not token else f"is shorter than {MIN_TOKEN} characters"
        raise InputError(
            f"the API token variable {name} {state}: export {name}=<a secret of {MIN_TOKEN} or more characters>, "
            f"e.g. {name}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'), then start again."
        )
    return token


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one sentence saying why it cannot be had."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise InputError(f"serve.host={host} is not a known host name or address: give one, e.g. 127.0.0.1.") from exc
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        why = {
            errno.EADDRINUSE: f"port {port} is already in use on {host}",
            errno.EACCES: f"port {port} needs administrator rights",
            errno.EADDRNOTAVAIL: f"{host} is not an address of this machine",
        }.get(exc.errno, f"{host}:{port} cannot be listened on ({exc.strerror})")
        raise InputError(f"{why}: choose another with serve.port=<port> or serve.host=<address>.") from exc
