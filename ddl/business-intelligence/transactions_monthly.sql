-- Owned by team business-intelligence. The folder is the owner; this file is the table's contract.
CREATE TABLE bi.transactions_monthly (
  merchant_id  STRING COMMENT 'Merchant',
  transactions BIGINT COMMENT 'Number of card transactions in the month',
  month        STRING COMMENT 'Month of the data, yyyy-MM'
)
USING parquet
PARTITIONED BY (month)
COMMENT 'Monthly transaction counts per merchant, straight from the hourly transactions (reconciliation).'
TBLPROPERTIES (
  'mesh.producer' = 'bi_monthly.count_transactions_monthly',
  'mesh.schedule' = '@monthly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'payments.transactions'
);
