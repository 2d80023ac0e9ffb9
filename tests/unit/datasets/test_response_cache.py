from panlearn.datasets.response_cache import ResponseCache


def test_responses_survive_a_reopen_and_keep_their_fetch_time(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("k", b"[1]", stored_at=100.0)
    cache.close()
    reopened = ResponseCache(tmp_path)
    try:
        hit = reopened.get("k")
        assert hit.body == b"[1]" and hit.stored_at == 100.0 and hit.age(now=160.0) == 60.0
        assert reopened.get("other") is None and len(reopened) == 1
        reopened.put("new", b"{}")
        assert reopened.prune(older_than=3600) == 1
        assert reopened.get("k") is None and reopened.get("new").age() < 5
        reopened.clear()
        assert len(reopened) == 0
    finally:
        reopened.close()
