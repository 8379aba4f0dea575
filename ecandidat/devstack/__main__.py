"""The one-command local platform.

    python -m ecandidat.devstack up [--gateway-port 8080] [--no-seed]
    python -m ecandidat.devstack env          # export lines for the resolved environment

`up` reuses what is reachable (NATS_URL, DATABASE_URL, S3_ENDPOINT, SMTP_HOST), starts the rest
under ECANDIDAT_STATE_DIR (default .state/), starts every platform process that exists as its own
subprocess (logs in .state/logs/<name>.log, restarted if it dies), waits for the gateway's
/health, seeds the demo campaign, prints the URLs and runs until Ctrl-C or SIGTERM: then the
platform processes get SIGTERM (SIGKILL after 10 s) and the servers it started are stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path

import aiohttp

from ecandidat.devstack._process import LOCALHOST, free_port, port_or_free, reachable
from ecandidat.devstack.resolve import (
    DEFAULT_GATEWAY_PORT,
    Resolution,
    project_root,
    resolve,
    state_dir,
)
from ecandidat.devstack.supervisor import PROGRAMS, Supervised, has_main, stop_all

log = logging.getLogger("ecandidat.devstack")

HEALTH_TIMEOUT = 60.0
EXPORTED = (
    "DATABASE_URL", "NATS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION",
    "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "MAIL_FROM",
    "GATEWAY_HOST", "GATEWAY_PORT", "PUBLIC_BASE_URL", "LOG_LEVEL", "ECANDIDAT_STATE_DIR",
    "NATS_CREDENTIALS_DIR", "ECANDIDAT_ENV",
    "WEB_PORT", "WEB_URL", "WEB_API_URL", "TRUSTED_PROXIES", "ENT_ENABLED", "ENT_CAS_URL", "WEB_ENT_URL",
)  # fmt: skip
DEFAULT_WEB_PORT = 8081


class StackError(Exception):
    """A failure worth a one-line message rather than a traceback."""


def _stack_file(state: Path) -> Path:
    return state / "devstack.json"


def _running_stack(state: Path) -> dict | None:
    """The description written by a running `up` for this state directory, if it still runs."""
    try:
        info = json.loads(_stack_file(state).read_text())
        cmdline = Path(f"/proc/{int(info['pid'])}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return None
    return info if b"ecandidat.devstack" in cmdline else None


def _gateway_port(args: argparse.Namespace) -> int:
    explicit = args.gateway_port or os.environ.get("GATEWAY_PORT")
    host = os.environ.get("GATEWAY_HOST", LOCALHOST)
    probe = LOCALHOST if host in ("0.0.0.0", "::", "") else host
    if explicit:
        port = int(explicit)
        if reachable(probe, port, timeout=0.2):
            raise StackError(f"gateway port {port} is already in use")
        return port
    if reachable(probe, DEFAULT_GATEWAY_PORT, timeout=0.2):
        port = free_port()
        log.warning("port %d is taken: the gateway will listen on %d", DEFAULT_GATEWAY_PORT, port)
        return port
    return DEFAULT_GATEWAY_PORT


# -- env -----------------------------------------------------------------------------------------


def _exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(env[name])}" for name in EXPORTED if name in env)


async def command_env(args: argparse.Namespace) -> int:
    state = state_dir()
    running = _running_stack(state)
    if running is not None:
        print(f"# the stack started by pid {running['pid']} ({state})")
        print(_exports(running["env"]))
        return 0
    port = args.gateway_port or int(os.environ.get("GATEWAY_PORT", DEFAULT_GATEWAY_PORT))
    resolution = await resolve(os.environ, gateway_port=port, start=False)
    print(f"# no stack running for {state}; what `up` would use:")
    for line in resolution.planned:
        print(f"# to be started by up: {line}")
    print(_exports(resolution.env))
    return 0


# -- up ------------------------------------------------------------------------------------------


async def _wait_gateway(env: dict[str, str], stopping: asyncio.Event) -> None:
    host = env["GATEWAY_HOST"]
    host = LOCALHOST if host in ("0.0.0.0", "::", "") else host
    url = f"http://{host}:{env['GATEWAY_PORT']}/health"
    deadline = time.monotonic() + HEALTH_TIMEOUT
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stopping.is_set():
            try:
                async with session.get(url) as response:
                    if response.status in (200, 503):
                        log.info("gateway answers %s on /health", response.status)
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() >= deadline:
                logs = Path(env["ECANDIDAT_STATE_DIR"]) / "logs" / "gateway.log"
                raise StackError(f"the gateway did not answer {url} within {HEALTH_TIMEOUT:g} s; see {logs}")
            await asyncio.sleep(0.3)


def web_env(env: dict[str, str]) -> dict[str, str]:
    """The web process listens beside the gateway, which proxies the pages to it (one origin);
    the web process calls the API through the gateway's internal address."""
    host = env["GATEWAY_HOST"]
    host = LOCALHOST if host in ("0.0.0.0", "::", "") else host
    port = env.get("WEB_PORT") or str(port_or_free(DEFAULT_WEB_PORT))
    return {
        "WEB_HOST": LOCALHOST,
        "WEB_PORT": port,
        "WEB_URL": env.get("WEB_URL") or f"http://{LOCALHOST}:{port}",
        "WEB_API_URL": env.get("WEB_API_URL") or f"http://{host}:{env['GATEWAY_PORT']}",
        # The web process calls the API for the people it serves: the gateway believes the
        # X-Forwarded-For it passes on (login throttling keyed by the person's address, not the web's).
        "TRUSTED_PROXIES": env.get("TRUSTED_PROXIES") or LOCALHOST,
    }


async def _wait_web(env: dict[str, str], stopping: asyncio.Event) -> None:
    """The espace candidat answers through the gateway (its URL is printed only then)."""
    host = env["GATEWAY_HOST"]
    host = LOCALHOST if host in ("0.0.0.0", "::", "") else host
    url = f"http://{host}:{env['GATEWAY_PORT']}/"
    deadline = time.monotonic() + HEALTH_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while not stopping.is_set() and time.monotonic() < deadline:
            try:
                async with session.get(url, headers={"Accept": "text/html"}) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.3)
    logs = Path(env["ECANDIDAT_STATE_DIR"]) / "logs" / "web.log"
    log.warning("the espace candidat did not answer %s within %g s; see %s", url, HEALTH_TIMEOUT, logs)


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


_NO_SUCH_COMMAND = re.compile(r"no such command|invalid choice|unknown command|unrecognized", re.I)


FIRST_ADMIN = "admin@ecandidat.example.org"


async def _seed(env: dict[str, str]) -> None:
    """The demo campaign, then the first administrator and how to set up their login."""
    for command in (["seed-demo"], ["create-admin", "--email", env.get("ECANDIDAT_FIRST_ADMIN", FIRST_ADMIN)]):
        await _cli(env, command)


async def _cli(env: dict[str, str], command: list[str]) -> None:
    if not _module_exists("ecandidat.cli"):
        log.info("no ecandidat.cli module: %s skipped", command[0])
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ecandidat.cli", *command,
        env=env, cwd=project_root(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        log.warning("%s did not finish within 180 s: killed", command[0])
        return
    text = output.decode(errors="replace").strip()
    if process.returncode == 0:
        print(f"{command[0]}:\n{text}" if text else f"{command[0]}: done", flush=True)
    elif _NO_SUCH_COMMAND.search(text):
        log.info("ecandidat.cli has no %s command: skipped", command[0])
    else:
        log.warning("%s failed with code %s:\n%s", command[0], process.returncode, text)


def _summary(resolution: Resolution, present: list[str], absent: list[str]) -> str:
    env = resolution.env
    origin = resolution.origin
    public = env["PUBLIC_BASE_URL"].rstrip("/")
    gateway = "gateway" in present
    smtp = f"{env['SMTP_HOST']}:{env['SMTP_PORT']}"
    mails = (
        f"Maildir {resolution.sink.maildir} (SMTP sink {smtp})"
        if resolution.sink is not None
        else f"SMTP {smtp} (reused)"
    )
    lines = [
        "",
        "eCandidat local stack is up",
        f"  espace candidat   {public}/   <- open this in a browser",
        f"  gateway   {public}" + ("" if gateway else "  (no gateway package yet: not started)"),
        f"  OpenAPI   {public}/api/v1/openapi.json",
        f"  mails     {mails}",
        f"  S3        {env['S3_ENDPOINT']}  ({origin.get('S3')}; key {env['S3_ACCESS_KEY']})",
        f"  NATS      {env['NATS_URL']}  ({origin.get('NATS')})",
        f"  DB        {env['DATABASE_URL']}  ({origin.get('DB')})",
        f"  ENT       {env.get('ENT_CAS_URL', 'off')}  ({origin.get('ENT')})",
        f"  logs      {Path(env['ECANDIDAT_STATE_DIR']) / 'logs'}",
        f"  running   {', '.join(present) or 'no platform process exists yet'}",
    ]
    if absent:
        lines.append(f"  absent    {', '.join(absent)} (no __main__ module yet)")
    lines += ["  env       python -m ecandidat.devstack env", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


async def command_up(args: argparse.Namespace) -> int:
    state = state_dir()
    running = _running_stack(state)
    if running is not None:
        raise StackError(f"a stack is already running for {state} (pid {running['pid']})")
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def _on_signal(sig: signal.Signals) -> None:
        if stopping.is_set():
            log.info("%s: already stopping", sig.name)
        else:
            log.info("%s: stopping", sig.name)
            stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, sig)

    (state / "logs").mkdir(parents=True, exist_ok=True)
    gateway_port = _gateway_port(args)
    try:
        resolution = await resolve(os.environ, gateway_port=gateway_port, start=True)
    except (RuntimeError, FileNotFoundError, OSError) as error:
        raise StackError(f"could not start the infrastructure: {error}") from error
    children: list[Supervised] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        if stopping.is_set():
            return 0
        present = [p for p in PROGRAMS if has_main(p.module)]
        if any(p.name == "web" for p in present):
            resolution.env.update(web_env({**os.environ, **resolution.env}))
        env = {**os.environ, **resolution.env, "PYTHONUNBUFFERED": "1"}
        _stack_file(state).write_text(json.dumps({"pid": os.getpid(), "env": resolution.env}))
        absent = [p.name for p in PROGRAMS if p not in present]
        # The gateway's /health asks the services it is told about: those that run here.
        env.setdefault("GATEWAY_SERVICES", ",".join(p.name for p in present if p.name not in ("gateway", "web")))
        for program in present:
            child = Supervised(program, env, project_root(), state / "logs")
            children.append(child)
            tasks.append(asyncio.create_task(child.run(), name=f"supervise-{program.name}"))
        if any(p.name == "gateway" for p in present):
            waiting = asyncio.create_task(_wait_gateway(env, stopping))
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait({waiting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            await asyncio.gather(stop_wait, return_exceptions=True)
            if stopping.is_set():
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
                return 0
            try:
                waiting.result()  # StackError after the timeout
            except StackError as error:
                log.error("%s", error)
                return 1
        if not stopping.is_set() and not args.no_seed:
            await _seed(env)
        if not stopping.is_set() and any(p.name == "web" for p in present):
            await _wait_web(env, stopping)
        print(_summary(resolution, [p.name for p in present], absent), flush=True)
        await stopping.wait()
        return 0
    finally:
        log.info("stopping platform processes")
        await stop_all(children, tasks)
        for server in reversed(resolution.started):
            log.info("stopping %s", type(server).__name__)
            server.stop()
        _stack_file(state).unlink(missing_ok=True)
        log.info("stopped")


def command_mail(args: argparse.Namespace) -> int:
    """The last mail in the local stack's Maildir, as text (the files are MIME, quoted-printable)."""
    import mailbox
    import re
    from email import policy
    from email.parser import BytesParser

    box = mailbox.Maildir(state_dir() / "maildir", factory=None, create=False)
    mails = []
    for key in box.iterkeys():
        with box.get_file(key) as stream:
            message = BytesParser(policy=policy.default).parsebytes(stream.read())
        if args.to is None or (message["To"] or "").lower() == args.to.lower():
            mails.append((message["Date"].datetime if message["Date"] else None, key, message))
    if not mails:
        print("no mail", file=sys.stderr)
        return 1
    _, _, message = max(mails, key=lambda m: (m[0] is not None, m[0], m[1]))
    body = message.get_body(("plain",))
    if body is None:
        print("the mail has no text part", file=sys.stderr)
        return 1
    text = body.get_content()
    if args.link:
        found = re.search(r"https?://\S+", text)
        if not found:
            print("no link in the mail", file=sys.stderr)
            return 1
        print(found.group(0))
        return 0
    print(f"From: {message['From']}\nTo: {message['To']}\nSubject: {message['Subject']}\n\n{text}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecandidat.devstack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("up", "start the local platform"), ("env", "print the resolved environment")):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("--gateway-port", type=int, default=None, help="default 8080 (or GATEWAY_PORT)")
        if name == "up":
            command.add_argument("--no-seed", action="store_true", help="skip the demo seed")
    mail = sub.add_parser("mail", help="print the last mail the local SMTP sink received (decoded), or the link in it")
    mail.add_argument("--to", help="only mails to this address")
    mail.add_argument("--link", action="store_true", help="print only the first link of the mail")
    args = parser.parse_args(argv)
    if args.command == "mail":
        return command_mail(args)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s devstack %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr if args.command == "env" else sys.stdout,
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter
    try:
        return asyncio.run(command_up(args) if args.command == "up" else command_env(args))
    except StackError as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... env | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
