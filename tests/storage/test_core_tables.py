from __future__ import annotations

import pytest
from sqlalchemy import TableClause, TypeDecorator

from storage.core_tables import INCIDENTS, KEY_VALUES, LOG, LOG_HEAD, current_version
from storage.db import make_engine
from storage.migrations import MIGRATIONS, migrate
from storage.tables import IncidentRow, KeyValueRow, LogHead, LogRow, table_of

PAIRS = [(LOG, LogRow), (LOG_HEAD, LogHead), (KEY_VALUES, KeyValueRow), (INCIDENTS, IncidentRow)]


@pytest.mark.parametrize(("core", "model"), PAIRS, ids=[core.name for core, _ in PAIRS])
def test_each_core_table_has_its_models_columns_and_types(
    core: TableClause, model: type[IncidentRow | KeyValueRow | LogHead | LogRow]
) -> None:
    full = table_of(model)
    assert core.name == full.name
    for column in core.c:
        assert column.name in full.c, f"{core.name}.{column.name} is not in the model"
        kind, modelled = column.type, full.c[column.name].type
        if isinstance(modelled, TypeDecorator):  # e.g. SQLModel's AutoString, a String
            modelled = modelled.impl_instance
        assert kind.__visit_name__ == modelled.__visit_name__, f"{core.name}.{column.name}"
        assert getattr(kind, "timezone", None) == getattr(modelled, "timezone", None)


def test_the_log_table_names_every_column_of_the_model() -> None:
    # Appends insert through it: a column it lacked would be left out of every entry.
    assert [column.name for column in LOG.c] == [column.name for column in table_of(LogRow).c]


def test_the_log_head_table_names_every_column_of_the_model() -> None:
    assert {column.name for column in LOG_HEAD.c} == {column.name for column in table_of(LogHead).c}


def test_the_schema_version_counts_the_migrations() -> None:
    engine = make_engine("sqlite://")
    try:
        assert current_version(engine) == 0
        migrate(engine)
        assert current_version(engine) == len(MIGRATIONS)
    finally:
        engine.dispose()
