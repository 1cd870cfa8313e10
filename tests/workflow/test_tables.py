"""Resource tables: rows keyed by the first column, every checked cell refused with the file, line and column."""

import re

import pytest
import yaml
from workflow_cli import ROOT

from gradcorr.workflow.tables import PLAIN_NAME, pattern_check, plain_name, read_table


def _table(tmp_path, text):
    path = tmp_path / "t.tsv"
    path.write_text(text)
    return path


def test_rows_are_keyed_by_the_first_column_with_extra_columns_kept(tmp_path):
    path = _table(tmp_path, "tf\tid\tnote\nCTCF\tMA0139.2\tinsulator\nMAX\tMA0058.4\t\n")
    rows = read_table(path, ("tf", "id"), {"tf": plain_name, "id": pattern_check(re.compile(r"^MA\d{4}\.\d+$"), "x")})
    assert list(rows) == ["CTCF", "MAX"]
    assert rows["CTCF"] == {"tf": "CTCF", "id": "MA0139.2", "note": "insulator"}


@pytest.mark.parametrize("text, error", [
    ("tf\tid\nCTCF\tMA1\n..\tMA2\n", "line 3, column tf: '..' is not a plain name"),
    ("tf\tid\nCTCF\t\n", "line 2, column id: empty"),
    ("tf\tid\nCTCF\tMA1\nCTCF\tMA2\n", "line 3: tf 'CTCF' is already on an earlier line"),
    ("tf\tname\nCTCF\tMA1\n", "missing column(s) ['id']"),
    ("tf\tid\n", "no rows"),
    ("tf\tid\n# a comment\n\nCTCF\tMA1\n/etc\tMA2\n", "line 5, column tf: '/etc' is not a plain name"),
])
def test_bad_tables_are_refused_naming_file_line_and_column(tmp_path, text, error):
    path = _table(tmp_path, text)
    with pytest.raises(ValueError) as err:
        read_table(path, ("tf", "id"), {"tf": plain_name})
    assert str(err.value).startswith(f"{path}: ") and error in str(err.value)


def test_a_missing_or_binary_table_is_refused_naming_it(tmp_path):
    with pytest.raises(ValueError, match="absent.tsv: table not found"):
        read_table(tmp_path / "absent.tsv", ("tf",))
    path = tmp_path / "bin.tsv"
    path.write_bytes(b"tf\n\xff\xfe\n")
    with pytest.raises(ValueError, match="bin.tsv: not a readable tab-separated table"):
        read_table(path, ("tf",))


@pytest.mark.parametrize("name, ok", [("CTCF", True), ("NR2F1.v2", True), ("tf_1-a", True), ("-x", True),
                                      (".", False), ("..", False), (".hidden", False), ("a/b", False),
                                      ("a b", False), ("", False)])
def test_plain_names_can_name_no_shared_or_hidden_path(name, ok):
    if ok:
        plain_name(name)
    else:
        with pytest.raises(ValueError, match="not a plain name"):
            plain_name(name)


def test_the_schema_names_plain_names_as_the_tables_do():
    """config/schema.yaml's $defs/name (TFs, assemblies in the config) and PLAIN_NAME (table cells) agree."""
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    assert schema["$defs"]["name"]["pattern"] == PLAIN_NAME.pattern
