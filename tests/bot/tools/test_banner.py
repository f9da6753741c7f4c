"""`shortcode serve`'s start lines are true where it runs: in our image it names no .venv and no address
only the container can use, and no start line carries a password from a Redis or database URL."""
from __future__ import annotations

from bot.db import upgrade
from bot.tools.banner import banner, hide_password, in_container
from tests.processes import SECRETS, Serve, clean_env


async def test_serve_in_the_image_prints_what_is_true_in_a_container(tmp_path, redis_url):
    """As the image runs it (SHORTCODE_IN_CONTAINER=1, on 0.0.0.0): the published port, `docker ... exec`."""
    db = f"sqlite:///{tmp_path}/own.db"
    upgrade(db)
    env = clean_env(SHORTCODE_REDIS_URL=redis_url, SHORTCODE_DATABASE_URL=db, SHORTCODE_IN_CONTAINER="1", **SECRETS)
    serve = Serve(tmp_path, env, host="0.0.0.0")
    try:
        assert await serve.outcome() == "started", serve.stderr
        out = serve.stdout
        assert f"listening on 0.0.0.0:{serve.port} inside this container" in out
        assert f"http://localhost:{serve.port}/ussd/africastalking" in out and "docker compose exec serve" in out
        assert ".venv" not in out and "http://0.0.0.0" not in out
    finally:
        serve.stop()


def test_only_the_images_variable_makes_a_container():
    """/.dockerenv is not enough: a developer's machine or CI may be a container with a .venv."""
    assert in_container({"SHORTCODE_IN_CONTAINER": "1"}) and not in_container({})
    assert not in_container({"SHORTCODE_IN_CONTAINER": "0"})


def test_outside_a_container_a_wildcard_address_is_tried_on_loopback():
    text = banner("0.0.0.0", 8080, "embedded", "sqlite:///var/shortcode.db", "K", container=False)
    assert "curl" in text and "'http://127.0.0.1:8080/ussd/africastalking?key=K'" in text
    assert ".venv/bin/shortcode sim" in text


def test_passwords_in_the_store_urls_are_never_printed():
    text = banner("0.0.0.0", 8080, "redis://:r3d1s-pw@redis:6379/0",
                  "postgresql+psycopg://shortcode:pg-pw@postgres:5432/shortcode", "K", container=True)
    assert "r3d1s-pw" not in text and "pg-pw" not in text
    assert "redis://:***@redis:6379/0" in text and "postgresql+psycopg://shortcode:***@postgres:5432/shortcode" in text
    assert hide_password("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
