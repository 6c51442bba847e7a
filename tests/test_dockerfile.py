"""The Dockerfile and the README's front matter follow the Hugging Face Docker Space conventions.

Read as text (no docker here): a slim Python base, the pinned requirements and nothing else,
a non-root user with uid 1000, port 7860 on 0.0.0.0, `python -m app`, and the app's packages.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = "7860"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#"):
            continue
        lines.append(line)
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def arguments(keyword: str) -> list[str]:
    return [rest for key, rest in instructions() if key == keyword]


def env() -> dict[str, str]:
    values = {}
    for rest in arguments("ENV"):
        for item in shlex.split(rest):
            key, _, value = item.partition("=")
            values[key] = value
    return values


def test_the_base_image_is_a_slim_python_3():
    froms = arguments("FROM")
    assert len(froms) == 1, froms  # one stage: what is built is what runs
    assert re.fullmatch(r"python:3\.(1[1-9])(\.\d+)?-slim(-\w+)?", froms[0]), froms[0]


def test_pip_installs_the_requirements_file_and_nothing_else():
    installs = [rest for rest in arguments("RUN") if "pip install" in rest]
    assert len(installs) == 1, installs
    words = shlex.split(installs[0].split("pip install", 1)[1].split("&&")[0])
    packages, files = [], []
    takes_value = {"--extra-index-url", "--index-url", "-i", "--find-links", "-f"}
    it = iter(words)
    for word in it:
        if word in {"-r", "--requirement"}:
            files.append(next(it))
        elif word in takes_value:
            next(it)
        elif not word.startswith("-"):
            packages.append(word)
    assert files == ["requirements.txt"] and packages == [], words
    copied = [shlex.split(rest) for rest in arguments("COPY")]
    assert ["requirements.txt", "."] in copied or any(
        "requirements.txt" in args[:-1] for args in copied
    )
    assert (ROOT / "requirements.txt").is_file()


def test_the_app_runs_as_a_non_root_user_with_uid_1000():
    users = arguments("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1]
    assert user not in {"root", "0"}
    if user != "1000":
        useradd = [rest for rest in arguments("RUN") if "useradd" in rest]
        assert any(
            re.search(r"(--uid|-u)\s+1000\b", rest) and rest.split()[-1] == user for rest in useradd
        ), (user, useradd)
    order = [key for key, _ in instructions()]
    assert order.index("CMD") > len(order) - 1 - order[::-1].index("USER")


def test_it_serves_on_port_7860_on_every_interface():
    assert arguments("EXPOSE") == [PORT]
    values = env()
    assert values.get("GRADIO_SERVER_NAME") == "0.0.0.0"
    assert values.get("GRADIO_SERVER_PORT", PORT) == PORT
    assert values.get("GRADIO_ANALYTICS_ENABLED") == "False"  # nothing calls home at start


def test_the_command_is_python_dash_m_app():
    (cmd,) = arguments("CMD")
    command = json.loads(cmd) if cmd.startswith("[") else shlex.split(cmd)
    assert command == ["python", "-m", "app"]


def test_the_app_packages_are_copied_into_the_image():
    sources = set()
    for rest in arguments("COPY"):
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        sources.update(w.rstrip("/") for w in words[:-1])
    assert {"app", "core", "demos", "assets"} <= sources
    assert not sources & {".", "tests", ".venv"}, "copy only what the app runs"


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md has no front matter"
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in match.group(1).splitlines())
    )


def test_the_readme_front_matter_makes_a_docker_space_on_the_same_port():
    meta = front_matter()
    assert meta["sdk"] == "docker"
    assert meta["app_port"] == PORT == arguments("EXPOSE")[0]
    assert meta.get("title")


def test_the_readme_says_how_to_run_the_image_and_embed_a_demo():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"docker build\b.*\n.*docker run\b.*-p\s*7860:7860", text)
    assert re.search(r"<iframe[^>]*\bsrc=\"[^\"]*/demo/[a-z0-9-]+", text), "no iframe snippet"
