"""What `shortcode serve` prints at start: where it listens and how to try it. Inside a container the
listening address is not the one a user reaches and there is no `.venv`, so the banner says what is true there."""
from __future__ import annotations

import os
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

WILDCARDS = ("0.0.0.0", "::", "")
DIAL = ("curl -d sessionId=s1 -d 'serviceCode=*126#' -d phoneNumber=+8613800000001 -d networkCode=46000 -d text= "
        "'{base}/ussd/africastalking?key={key}'")


def in_container(environ: Mapping[str, str] | None = None) -> bool:
    """Our image sets SHORTCODE_IN_CONTAINER=1. Not Docker's /.dockerenv: a developer's machine or CI may be a
    container too, with a .venv and a loopback address that the ordinary banner describes truly."""
    flag = (os.environ if environ is None else environ).get("SHORTCODE_IN_CONTAINER", "")
    return flag.strip().lower() in ("1", "true", "yes")


def banner(host: str, port: int, redis_url: str, database_url: str, key: str, container: bool) -> str:
    """The start-up lines; `key` is the USSD key safe to print (a generated demo key) or a placeholder."""
    stores = f"(Redis: {hide_password(redis_url)}, database: {hide_password(database_url)})"
    if container:
        return (f"Shortcode listening on {host}:{port} inside this container {stores}\n"
                f"Reach it on the host port published for it (docker run -p {port}:{port}, or the compose file's "
                f"ports), e.g.:\n  {DIAL.format(base=f'http://localhost:{port}', key=key)}\n"
                "or a terminal phone in the container: docker compose exec serve shortcode sim "
                "(docker exec -it CONTAINER shortcode sim)")
    reach = "127.0.0.1" if host in WILDCARDS else host
    return (f"Shortcode on http://{host}:{port}  {stores}\n"
            f"Try it:\n  {DIAL.format(base=f'http://{reach}:{port}', key=key)}\n"
            "or, in another terminal: .venv/bin/shortcode sim")


def hide_password(url: str) -> str:
    """A compose file puts the database's and Redis's passwords in their URLs: logs must not carry them."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
