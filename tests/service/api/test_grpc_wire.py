"""Replies written from bundle rows parse to exactly what protobuf would have built."""

from __future__ import annotations

import numpy as np
import pytest
from recserve_client.rpc import recommender_pb2 as pb

from bundle.items import ItemTable
from service.api.grpc_wire import ReplyWriter, item_prefixes, varint
from service.core.types import Recommendations


def _table(tmp_path, rows: list[tuple[str, str]]) -> ItemTable:
    path = tmp_path / "items.tsv"
    lines = ["row\titem_id\tcategories\tcount"]
    lines += [f"{k}\t{i}\t{c}\t1" for k, (i, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ItemTable.read(path, len(rows))


@pytest.fixture()
def table(tmp_path) -> ItemTable:
    return _table(
        tmp_path,
        [
            ("item-0", "cat-a"),
            ("ünïcødé-1", "cat-a|cat-b"),
            ("x" * 300, ""),  # its record is longer than 127 bytes: a 2-byte length
            ("item-3", "|".join(f"c{k}" for k in range(40))),  # 40 categories
            ("", ""),  # empty id: protobuf writes no item_id field at all
        ],
    )


def _expected(table: ItemTable, rows, scores, **fields) -> pb.RecommendResponse:
    items = [
        pb.ScoredItem(item_id=table.ids[r], score=s, categories=table.row_categories[r])
        for r, s in zip(rows, scores, strict=True)
    ]
    return pb.RecommendResponse(items=items, **fields)


@pytest.mark.parametrize("length", [1, 127, 128, 300, 16383, 16384, 70000])
def test_varint_is_the_length_prefix_protobuf_writes(length):
    encoded = pb.ScoredItem(item_id="a" * length).SerializeToString()  # tag, length, bytes
    assert encoded == b"\x0a" + varint(length) + b"a" * length


@pytest.mark.parametrize("value", [0, 2**31, 2**40 + 5])
def test_varint_decodes_back(value):
    data = varint(value)
    assert sum((b & 0x7F) << (7 * k) for k, b in enumerate(data)) == value
    assert all(b & 0x80 for b in data[:-1]) and data[-1] < 0x80


def test_recommend_reply_parses_to_the_message_protobuf_builds(table):
    rng = np.random.default_rng(0)
    writer = ReplyWriter()
    for _ in range(50):
        n = int(rng.integers(0, 6))
        rows = rng.integers(0, 5, size=n).astype(np.int64)
        scores = rng.normal(scale=50, size=n).astype(np.float32)
        result = Recommendations(rows, scores, table, "m/3", bool(n % 2), "" if n % 2 else "x")
        got = pb.RecommendResponse.FromString(writer.recommend(result))
        want = _expected(
            table, rows.tolist(), scores.tolist(),
            model_version="m/3", personalized=bool(n % 2), fallback_reason="" if n % 2 else "x",
        )  # fmt: skip
        assert got == want
        assert [i.score for i in got.items] == scores.tolist()  # float32 kept bit for bit


def test_similar_reply_parses_and_special_scores_survive(table):
    rows = np.array([4, 2, 0, 1], dtype=np.int64)
    scores = np.array([np.inf, -0.0, 3.5, -np.inf], dtype=np.float32)
    result = Recommendations(rows, scores, table, "m/1", False)
    got = pb.SimilarItemsResponse.FromString(ReplyWriter().similar(result))
    assert [i.item_id for i in got.items] == [table.ids[r] for r in rows]
    assert [list(i.categories) for i in got.items] == [list(table.row_categories[r]) for r in rows]
    assert [i.score for i in got.items] == scores.tolist() and got.model_version == "m/1"


def test_prefixes_follow_the_table_a_result_points_at(tmp_path, table):
    other = _table(tmp_path, [("other-0", "z"), ("other-1", "")])
    writer = ReplyWriter()
    first = Recommendations(np.array([1]), np.array([1.0], np.float32), table, "a/1", True)
    second = Recommendations(np.array([1]), np.array([1.0], np.float32), other, "b/1", True)
    assert pb.RecommendResponse.FromString(writer.recommend(first)).items[0].item_id == "ünïcødé-1"
    assert pb.RecommendResponse.FromString(writer.recommend(second)).items[0].item_id == "other-1"
    assert pb.RecommendResponse.FromString(writer.recommend(first)).items[0].item_id == "ünïcødé-1"
    assert len(item_prefixes(other)) == 2
