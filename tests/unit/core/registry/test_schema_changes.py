"""Planning a catalog table's change to its DDL (pure; the real catalog is in tests/integration/catalog)."""

from __future__ import annotations

from conftest import EXAMPLE_ROOT

from airflow_mesh.core.registry import load_mesh
from airflow_mesh.core.registry.schema_changes import CatalogColumn, plan_schema_changes


def spark_type(ddl: str) -> str:  # what Spark's DataType.fromDDL(...).simpleString() gives for these types
    return ddl.lower().replace(" ", "")


def catalog_of(table) -> list[CatalogColumn]:
    return [CatalogColumn(c.name, spark_type(c.type), c.comment, c.partition) for c in table.columns]


def test_the_table_as_its_ddl_says_needs_nothing() -> None:
    t = load_mesh(EXAMPLE_ROOT).table("payments.transactions")
    plan = plan_schema_changes(t, catalog_of(t), t.comment, spark_type)
    assert (plan.steps, plan.errors, plan.notes) == ((), (), ())


def test_a_new_column_and_comments_are_steps_partition_comments_notes() -> None:
    t = load_mesh(EXAMPLE_ROOT).table("payments.transactions")
    columns = [c for c in catalog_of(t) if c.name != "currency"]
    columns = [CatalogColumn(c.name, c.type, "old" if c.name in ("amount", "hour") else c.comment, c.partition)
               for c in columns]
    plan = plan_schema_changes(t, columns, "old table comment", spark_type)
    assert [s.what for s in plan.steps] == ["comment of column amount", "add column currency STRING", "table comment"]
    assert plan.steps[1].sql == ("ALTER TABLE payments.transactions ADD COLUMNS (currency STRING COMMENT "
                                 "'ISO 4217 currency code')")
    assert plan.notes == ("the comment of partition column hour stays as it is (Spark cannot change it)",)


def test_unsafe_changes_are_refused_and_leave_no_step() -> None:
    t = load_mesh(EXAMPLE_ROOT).table("payments.transactions")
    columns = catalog_of(t) + [CatalogColumn("legacy", "string", "", False)]
    columns = [CatalogColumn(c.name, "double" if c.name == "amount" else c.type, "x", c.partition) for c in columns]
    plan = plan_schema_changes(t, columns, t.comment, spark_type)
    assert plan.steps == ()
    assert [(e.line, e.message) for e in plan.errors] == [
        (5, "payments.transactions: column amount is double in the catalog, the DDL says DECIMAL(18, 2)"),
        (2, "payments.transactions: column legacy is in the catalog but not in the DDL (dropping it is refused)")]


def test_quotes_in_comments_stay_inside_the_literal() -> None:
    t = load_mesh(EXAMPLE_ROOT).table("payments.transactions")
    columns = [CatalogColumn(c.name, c.type, c.comment, c.partition) for c in catalog_of(t)]
    t2 = t.model_copy(update={"comment": "it's \\ fine"})
    [step] = plan_schema_changes(t2, columns, t.comment, spark_type).steps
    assert step.sql.endswith("('comment' = 'it\\'s \\\\ fine')")
