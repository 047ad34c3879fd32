"""Example PySpark job: fraud scores of one day, written as one partition of risk.fraud_scores_daily.

Arguments come from ``SparkYarnOperator``: ``--table --partition --period-start --period-end``.
Writes Parquet to ``<warehouse>/<db>/<table>/<partition column>=<value>`` with overwrite, so
re-running a day replaces exactly that day (idempotent). The warehouse is ``--warehouse``, which the
example DAG passes from its own warehouse setting (``dags/_example/warehouse.py``). A real job would read payments.transactions and auth.logins for
the period; this one derives deterministic rows so it runs anywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import os

from pyspark.sql import SparkSession


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--table", required=True)
    p.add_argument("--partition", required=True)
    p.add_argument("--period-start", required=True)
    p.add_argument("--period-end", required=True)
    p.add_argument("--warehouse", required=True)
    a = p.parse_args()
    db, table = a.table.split(".")
    spark = SparkSession.builder.appName(f"{a.table} {a.partition}").getOrCreate()
    seed = int(hashlib.sha256(f"{a.table}/{a.partition}".encode()).hexdigest()[:8], 16)
    rows = [(f"merchant-{(seed + i) % 97:02d}", round(((seed >> i) % 1000) / 1000, 3), "example-1", a.partition)
            for i in range(20)]
    df = spark.createDataFrame(rows, "merchant_id string, fraud_score double, model_version string, day string")
    target = os.path.join(a.warehouse, db, table, f"day={a.partition}")
    df.drop("day").coalesce(1).write.mode("overwrite").parquet(target)
    print(f"wrote {df.count()} rows to {target} for [{a.period_start}, {a.period_end})")
    spark.stop()


if __name__ == "__main__":
    main()
