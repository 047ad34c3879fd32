-- Owned by team business-intelligence. The folder is the owner; this file is the table's contract.
CREATE TABLE bi.merchant_revenue_daily (
  merchant_id STRING COMMENT 'Merchant',
  revenue_eur DECIMAL(18,2) COMMENT 'Net settled amount converted to EUR',
  day         STRING COMMENT 'Day of the data, yyyy-MM-dd (UTC)'
)
USING parquet
PARTITIONED BY (day)
COMMENT 'Revenue per merchant and day in EUR.'
TBLPROPERTIES (
  'mesh.producer' = 'bi_daily.build_merchant_revenue',
  'mesh.schedule' = '@daily',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'payments.settlements_daily, payments.fx_rates'
);
