-- Owned by team business-intelligence. The folder is the owner; this file is the table's contract.
CREATE TABLE bi.revenue_monthly (
  merchant_id STRING COMMENT 'Merchant',
  revenue_eur DECIMAL(18,2) COMMENT 'Revenue for the month in EUR',
  month       STRING COMMENT 'Month of the data, yyyy-MM'
)
USING parquet
PARTITIONED BY (month)
COMMENT 'Revenue per merchant and month in EUR.'
TBLPROPERTIES (
  'mesh.producer' = 'bi_monthly.build_revenue_monthly',
  'mesh.schedule' = '@monthly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'bi.merchant_revenue_daily'
);
