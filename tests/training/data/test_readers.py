import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from training.data.errors import DataFormatError
from training.data.readers import ColumnMap, FeatureFiles, load_interactions
from training.data.synthetic import write_recbole


def test_recbole_ml100k_loads_events_and_features(ml100k):
    data = load_interactions(ml100k, "recbole")
    stats = data.stats()
    assert (stats["users"], stats["items"], stats["events"]) == (943, 1682, 100_000)
    assert data.value.min() == 1 and data.value.max() == 5
    toy_story = data.items.index_of(["1"])[0]
    assert data.item_features.loc[toy_story, "categories"] == "Animation|Children's|Comedy"
    assert data.user_features.loc[data.users.index_of(["1"])[0], "occupation"] == "technician"
    assert np.all(np.diff(data.timestamp[data.user == 0]) >= 0)


def test_movielens_u_data_with_features(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t100\n2\t10\t3\t90\n1\t11\t4\t80\n")
    genres = "|".join(["0"] * 19)
    flags = genres[:2] + "1" + genres[3:]  # second genre flag: Action
    (tmp_path / "u.item").write_text(f"10|Film|01-Jan-1995||url|{flags}\n")
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n")
    data = load_interactions(tmp_path, "movielens")
    assert len(data) == 3 and data.n_users == 2
    assert data.item_features.loc[data.items.index_of(["10"])[0], "categories"] == "Action"
    # user 1's events come out in time order
    first = data.user == data.users.index_of(["1"])[0]
    assert data.items.ids[data.item[first]].tolist() == ["11", "10"]


def test_movielens_ratings_dat_double_colon(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    (tmp_path / "movies.dat").write_text(
        "1193::Cuckoo (1975)::Drama\n661::Peach (1996)::Animation|Musical\n"
    )
    data = load_interactions(tmp_path, "movielens")
    assert len(data) == 2
    assert sorted(data.item_features["categories"]) == ["Animation|Musical", "Drama"]


def test_csv_with_column_mapping_event_types_and_values(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("uid,sku,ts,kind,amount\na,x,10,view,1\na,y,11,purchase,9.5\nb,x,5,view,1\n")
    columns = ColumnMap.parse("user=uid,item=sku,timestamp=ts,event_type=kind,value=amount")
    data = load_interactions(path, "csv", columns)
    assert data.event_types == ("purchase", "view")
    assert data.value.tolist() == [1.0, 9.5, 1.0]


def test_parquet_with_datetime_timestamps(tmp_path):
    path = tmp_path / "events.parquet"
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a"],
            "item_id": ["x", "y"],
            "timestamp": pd.to_datetime(["2026-01-01T00:00:10Z", "2026-01-01T00:00:00Z"]),
        }
    )
    frame.to_parquet(path)
    data = load_interactions(path, "parquet")
    assert data.timestamp.tolist() == [1767225600.0, 1767225610.0]


def test_synthetic_log_roundtrips_through_recbole_files(tmp_path, small_log):
    folder = write_recbole(small_log.interactions, tmp_path / "demo")
    back = load_interactions(folder, "recbole")
    original = small_log.interactions
    assert back.n_users == original.n_users and back.n_items == original.n_items
    assert np.array_equal(back.item, original.item)
    assert np.allclose(back.timestamp, original.timestamp, atol=1e-3)
    assert back.event_types == original.event_types
    assert back.item_features["category"].tolist() == original.item_features["category"].tolist()


@pytest.mark.parametrize(
    ("content", "line", "column", "message"),
    [
        ("user_id,item_id\na,x\n", 1, None, "missing column 'timestamp'"),
        ("user_id,item_id,timestamp\na,x,1\nb,y,yesterday\n", 3, "timestamp", "not a number"),
        ("user_id,item_id,timestamp\na,x,1\n,y,2\n", 3, "user_id", "missing value"),
        ("user_id,item_id,timestamp\na,x,1\nb,y,2,extra\n", 3, None, "malformed row"),
        ("user_id,item_id,timestamp\n", None, None, "header but no rows"),
        ("", None, None, "empty"),
        ("   \n\n", None, None, "empty"),
    ],
)
def test_bad_csv_names_file_line_and_column(tmp_path, content, line, column, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message) as info:
        load_interactions(path, "csv")
    error = info.value
    assert error.path == str(path)
    assert error.line == line
    assert error.column == column
    assert str(error).startswith(f"{path}:{line}:" if line else f"{path}:")


def test_bad_recbole_timestamp_points_at_the_line(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "toy.inter").write_text(
        "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t100\n1\t3\tNaN-ish\n"
    )
    with pytest.raises(DataFormatError) as info:
        load_interactions(folder, "recbole")
    assert info.value.line == 3 and info.value.column == "timestamp"


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(DataFormatError, match="unknown format 'xlsx'"):
        load_interactions(tmp_path, "xlsx")
    with pytest.raises(DataFormatError, match="no such file"):
        load_interactions(tmp_path / "nope.csv", "csv")
    with pytest.raises(DataFormatError, match="no MovieLens ratings file"):
        load_interactions(tmp_path, "movielens")


def test_damaged_parquet_is_reported(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataFormatError, match="not a readable parquet"):
        load_interactions(path, "parquet")


def test_column_map_rejects_unknown_fields():
    with pytest.raises(ValueError, match="bad entry"):
        ColumnMap.parse("customer=uid")


def test_cli_reports_bad_file_in_one_line_without_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user_id,item_id,timestamp\na,x,noon\n")
    proc = subprocess.run(
        [sys.executable, "-m", "recserve.cli", "evaluate", "--data", str(path), "--format", "csv"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert (
        f"{path}:2: column 'timestamp': value 'noon' is neither a number nor an ISO-8601 time"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_iso_8601_and_millisecond_timestamps_read_as_unix_seconds(tmp_path):
    iso = tmp_path / "iso.csv"
    iso.write_text("user_id,item_id,timestamp\na,x,2024-05-01T12:00:00Z\na,y,2024-05-01 12:00:01\n"
                   "b,x,2024-05-01T14:00:00+02:00\n")  # fmt: skip
    ms = tmp_path / "ms.csv"
    ms.write_text("user_id,item_id,timestamp\na,x,1714564800000\na,y,1714564801000\n"
                  "b,x,1714564800000\n")  # fmt: skip
    expected = [1714564800.0, 1714564801.0, 1714564800.0]
    assert load_interactions(iso, "csv").timestamp.tolist() == expected
    assert load_interactions(ms, "csv", timestamp_unit="ms").timestamp.tolist() == expected


def test_item_and_user_files_attach_to_any_format(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text("user_id,item_id,timestamp\nu1,sku-1,1\nu1,sku-2,2\nu2,sku-3,3\n")
    items = tmp_path / "items.parquet"
    pd.DataFrame({
        "sku": ["sku-1", "sku-2", "sku-3", "sku-9"],
        "genres": [["Comedy", "Drama"], ["Comedy"], [], ["Horror"]],
        "price": [9.5, 3.0, 1.0, 2.0],
    }).to_parquet(items)  # fmt: skip
    users = tmp_path / "users.csv"
    users.write_text("uid,country\nu1,FR\nu2,DE\n")
    files = FeatureFiles(str(items), str(users), item_key="sku", user_key="uid",
                         categories="genres")  # fmt: skip
    data = files.attach(load_interactions(log, "csv"))
    by_item = dict(zip(data.items.ids, data.item_features["categories"], strict=True))
    assert by_item == {"sku-1": "Comedy|Drama", "sku-2": "Comedy", "sku-3": ""}
    assert data.item_features["price"].tolist() == [9.5, 3.0, 1.0]
    assert dict(zip(data.users.ids, data.user_features["country"], strict=True)) == {
        "u1": "FR", "u2": "DE",
    }  # fmt: skip
    text = tmp_path / "items.csv"
    text.write_text("item_id,category\nsku-1,Comedy; Drama\nsku-2,Comedy\n")
    data = FeatureFiles(str(text)).attach(load_interactions(log, "csv"))
    assert data.item_features["categories"].tolist()[:2] == ["Comedy|Drama", "Comedy"]


def test_a_metadata_file_without_its_id_column_is_refused_naming_it(tmp_path):
    log = tmp_path / "events.csv"
    log.write_text("user_id,item_id,timestamp\nu1,sku-1,1\n")
    items = tmp_path / "items.csv"
    items.write_text("sku,genres\nsku-1,Comedy\n")
    with pytest.raises(DataFormatError, match="missing id column 'item_id'"):
        FeatureFiles(str(items)).attach(load_interactions(log, "csv"))
