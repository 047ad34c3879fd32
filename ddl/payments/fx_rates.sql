-- Owned by team payments. The folder is the owner; this file is the table's contract.
CREATE TABLE payments.fx_rates (
  currency    STRING COMMENT 'ISO 4217 currency code',
  rate_to_eur DECIMAL(18,8) COMMENT 'Units of EUR per unit of currency',
  day         STRING COMMENT 'Day of the data, yyyy-MM-dd (UTC)'
)
USING parquet
PARTITIONED BY (day)
COMMENT 'Daily reference FX rates to EUR.'
TBLPROPERTIES (
  'mesh.producer' = 'payments_daily.load_fx_rates',
  'mesh.schedule' = '@daily',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01'
);
