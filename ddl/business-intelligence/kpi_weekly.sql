-- Owned by team business-intelligence. The folder is the owner; this file is the table's contract.
CREATE TABLE bi.kpi_weekly (
  kpi   STRING COMMENT 'Name of the KPI',
  value DOUBLE COMMENT 'Value of the KPI for the week',
  week  STRING COMMENT 'First day (Sunday) of the week of the data, yyyy-MM-dd'
)
USING parquet
PARTITIONED BY (week)
COMMENT 'Company KPIs per week.'
TBLPROPERTIES (
  'mesh.producer' = 'bi_weekly.build_kpis',
  'mesh.schedule' = '@weekly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'bi.merchant_revenue_daily, auth.sessions_daily, risk.fraud_scores_daily'
);
