"""The demo's customers' posts: each is heard as the shift's story tells it."""

import pytest

from posplugin.demo.listening import LANE, POSTS, STORE, STORE_HANDLES
from posplugin.hq.listening.classify import Classifier
from posplugin.hq.listening.mentions import parse_handles
from posplugin.hq.listening.placement import Place
from posplugin.hq.listening.route import route

PLACES = [Place(STORE, parse_handles(STORE_HANDLES), "Sentrum"),
          Place("other-store", parse_handles("@nordshop_storgata, #storgata"), "Storgata")]
CASES = [(language, kind, text) for language, kinds in POSTS.items() for kind, texts in kinds.items()
         for text in texts]


def test_each_kind_has_more_than_one_post_in_each_language():
    assert {len(texts) > 1 for kinds in POSTS.values() for texts in kinds.values()} == {True}
    assert {language: set(kinds) for language, kinds in POSTS.items()} == {
        "en": {"complaint", "praise", "other"}, "nb": {"complaint", "praise", "other"}}


@pytest.mark.parametrize("language, kind, text", CASES)
def test_a_post_reaches_the_store_and_reads_as_meant(language, kind, text):
    where = route(text, PLACES)
    verdict = Classifier().classify(text)
    if kind == "other":
        assert where.store is None
        return
    assert where.store == STORE
    if kind == "complaint":
        assert (verdict.about, verdict.tone, where.lane) == ("queue", "complaint", LANE)
    else:
        assert (verdict.about, verdict.tone) == ("staff", "praise")
