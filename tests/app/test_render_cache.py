"""The render cache: bounded in entries, entry size and bytes in all, least recently used out
first."""

from __future__ import annotations

from app.ui import RenderCache


def test_the_cache_keeps_recent_entries_and_drops_the_oldest() -> None:
    cache = RenderCache()
    for index in range(RenderCache.MAX_ENTRIES):
        cache.put(("demo", str(index), "en", "light"), [f"fig{index}"], "")
    assert cache.get(("demo", "0", "en", "light")) == (["fig0"], "")  # now the most recent
    cache.put(("demo", "new", "en", "light"), ["new"], "")
    assert cache.get(("demo", "1", "en", "light")) is None  # the least recently used went
    assert cache.get(("demo", "0", "en", "light")) is not None
    assert cache.get(("demo", "new", "en", "light")) == (["new"], "")


def test_large_renders_are_not_kept() -> None:
    cache = RenderCache()
    big = "x" * (RenderCache.MAX_ENTRY_BYTES + 1)
    cache.put(("demo", "big", "en", "light"), [big], "")
    assert cache.get(("demo", "big", "en", "light")) is None


def test_language_and_theme_are_part_of_the_key() -> None:
    cache = RenderCache()
    cache.put(("demo", "p", "en", "light"), ["en-light"], "")
    assert cache.get(("demo", "p", "zh", "light")) is None
    assert cache.get(("demo", "p", "en", "dark")) is None


def test_the_cache_is_bounded_in_bytes_in_all() -> None:
    cache = RenderCache()
    entry = "x" * (RenderCache.MAX_ENTRY_BYTES - 10)
    count = RenderCache.MAX_BYTES // len(entry) + 3
    for index in range(count):
        cache.put(("demo", str(index), "en", "light"), [entry], "")
        assert cache.bytes <= RenderCache.MAX_BYTES
    assert cache.get(("demo", "0", "en", "light")) is None  # the oldest went first
    assert cache.get(("demo", str(count - 1), "en", "light")) is not None
    cache.put(("demo", str(count - 1), "en", "light"), ["small"], "")  # replaced, not added
    assert cache.bytes <= RenderCache.MAX_BYTES - len(entry) + len("small")
