-- Owned by team business-intelligence. The folder is the owner; this file is the table's contract.
CREATE TABLE bi.revenue_hourly (
  revenue_eur  DECIMAL(18,2) COMMENT 'Gross transaction amount in EUR',
  transactions BIGINT COMMENT 'Number of transactions',
  hour         STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'
)
USING parquet
PARTITIONED BY (hour)
COMMENT 'Near-real-time revenue in EUR per hour (converted with the FX rates of the day).'
TBLPROPERTIES (
  'mesh.producer' = 'bi_hourly.build_revenue_hourly',
  'mesh.schedule' = '@hourly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'payments.transactions, payments.fx_rates'
);
