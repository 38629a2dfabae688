"""A table given as a folder or a pattern of files: an ERP's monthly exports, a partitioned Parquet dataset. Each
reads as the same rows written to one file would."""

from __future__ import annotations

import pandas as pd

from forecasting.data.prepare import prepare_data
from tests.frequency_tables import weekly
from tests.test_real_tables import SHORT, WEEKLY, apply_typed, panel, refused, same_panel, write


def weeks() -> pd.DataFrame:
    return weekly(n_skus=4, weeks=60)


def test_a_folder_of_monthly_exports_reads_as_one_table(tmp_path):
    table = weeks()
    clean = panel(write(table, tmp_path / "one.csv"), columns=WEEKLY)
    folder = tmp_path / "exports"
    folder.mkdir()
    # Each month's export as its system wrote it that month: the separator and the encoding changed once.
    for i, (month, rows) in enumerate(table.groupby(pd.to_datetime(table["week_ending"]).dt.to_period("M"))):
        rows.to_csv(folder / f"sales_{month}.csv", index=False, sep=";" if i > 5 else ",", encoding="cp1252")
    (folder / "_SUCCESS").write_text("")  # a writer's marker, not data
    got = panel(folder, columns=WEEKLY)
    same_panel(got, clean)
    months = pd.to_datetime(table["week_ending"]).dt.to_period("M").nunique()
    assert got.quality.as_dict()["read"]["files"].startswith(f"{months} files, in name order: sales_")
    # A pattern picks the exports it names.
    named = sorted(folder.glob("sales_2025-0*.csv"))
    assert 3 <= len(named) < len(list(folder.glob("*.csv")))
    expected = pd.concat(pd.read_csv(f, sep=None, engine="python", encoding="cp1252") for f in named)
    same_panel(
        panel(f"{folder}/sales_2025-0*.csv", columns=WEEKLY),
        panel(write(expected, tmp_path / "some.csv"), columns=WEEKLY),
    )


def test_a_partitioned_parquet_dataset_reads_with_its_partition_column(tmp_path):
    table = weeks()
    clean = panel(write(table, tmp_path / "one.csv"), columns=WEEKLY)
    table.assign(week_ending=pd.to_datetime(table["week_ending"])).to_parquet(
        tmp_path / "lake", partition_cols=["item"]
    )
    assert (tmp_path / "lake" / f"item={table['item'].iloc[0]}").is_dir()  # the SKU is in the folder names only
    same_panel(panel(tmp_path / "lake", columns=WEEKLY), clean)
    # A pattern of its files keeps the item its folders name: all of them, or the ones it picks.
    same_panel(panel(f"{tmp_path}/lake/item=*/*.parquet", columns=WEEKLY), clean)
    first = table["item"].iloc[0]
    one = panel(f"{tmp_path}/lake/item={first}/*.parquet", columns=WEEKLY)
    same_panel(one, panel(write(table[table["item"] == first], tmp_path / "first.csv"), columns=WEEKLY))
    # Part numbers with leading zeros in the folder names stay as written.
    zeros = table.assign(
        item="00" + table["item"].factorize()[0].astype(str), week_ending=pd.to_datetime(table["week_ending"])
    )
    zeros.to_parquet(tmp_path / "zeros", partition_cols=["item"])
    assert set(panel(f"{tmp_path}/zeros/item=*/*.parquet", columns=WEEKLY).panel["sku"]) == set(zeros["item"])
    assert set(panel(tmp_path / "zeros", columns=WEEKLY).panel["sku"]) == set(zeros["item"])
    # A stray file in the dataset's folder: moving it out is the fix.
    (tmp_path / "lake" / "notes.docx").write_bytes(b"PK\x03\x04")
    message = refused(tmp_path / "lake", columns=WEEKLY)
    assert message.endswith("also holds 'notes.docx', which is not a CSV or Parquet table; move it out of the folder.")
    (tmp_path / "lake" / "notes.docx").unlink()
    (tmp_path / "lake" / "README.txt").write_text("written by the nightly export")
    message = refused(tmp_path / "lake", columns=WEEKLY)
    assert message.endswith("mixes CSV and Parquet files, mostly Parquet; move the others out of the folder.")


def test_a_folder_with_another_file_prints_the_pattern_that_reads_the_tables(tmp_path):
    table = weeks()
    clean = panel(write(table, tmp_path / "one.csv"), columns=WEEKLY)
    folder = tmp_path / "exports"
    folder.mkdir()
    half = len(table) // 2
    write(table.iloc[:half], folder / "part1.csv")
    write(table.iloc[half:], folder / "part2.csv")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    message = refused(folder, columns=WEEKLY)
    assert "also holds 'notes.docx', which is not a CSV or Parquet table" in message
    kwargs = apply_typed(message, "path", columns=WEEKLY)
    same_panel(prepare_data(kwargs.pop("path"), kind="demand", **{**kwargs, "panel": SHORT}), clean)
    (folder / "notes.docx").unlink()
    (tmp_path / "empty").mkdir()
    assert "holds no CSV or Parquet file" in refused(tmp_path / "empty", columns=WEEKLY)


def test_a_workbook_reads_as_its_sales_sheet_saved_as_csv(tmp_path):
    # A planner's workbook: a notes sheet first, the sales below a title on the second, dates as Excel dates and
    # part numbers as text cells.
    table = weeks().assign(item=lambda t: "00" + t["item"].str[-2:])
    clean = panel(write(table, tmp_path / "one.csv"), columns=WEEKLY)
    book = tmp_path / "sales.xlsx"
    with pd.ExcelWriter(book) as sheets:
        pd.DataFrame({"Notes": ["exported weekly", "do not edit"]}).to_excel(sheets, sheet_name="Info", index=False)
        pd.DataFrame({"Weekly sales": ["run 2025-12-28"]}).to_excel(sheets, sheet_name="Sales", index=False)
        table.to_excel(sheets, sheet_name="Sales", index=False, startrow=3)
    got = panel(book, columns=WEEKLY)
    same_panel(got, clean)
    assert got.quality.as_dict()["read"]["sheet"] == "sheet 'Sales' of the workbook"
    # The same workbook saved under a CSV name, and a month per workbook in a folder, read alike.
    same_panel(panel(book.rename(tmp_path / "sales.csv"), columns=WEEKLY), clean)
    folder = tmp_path / "books"
    folder.mkdir()
    for month, rows in table.groupby(pd.to_datetime(table["week_ending"]).dt.to_period("M")):
        rows.to_excel(folder / f"sales_{month}.xlsx", index=False)
    same_panel(panel(folder, columns=WEEKLY), clean)
    # A message names the workbook and its sheet, not the CSV it was read through.
    message = refused(tmp_path / "sales.csv", columns={**WEEKLY, "quantity": "units"})
    assert message.startswith(f"{tmp_path / 'sales.csv'} (sheet 'Sales'): data.columns.quantity='units'")
