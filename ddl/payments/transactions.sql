-- Owned by team payments. The folder is the owner; this file is the table's contract.
CREATE TABLE payments.transactions (
  transaction_id STRING COMMENT 'Unique id of the transaction',
  merchant_id    STRING COMMENT 'Merchant that received the payment',
  amount         DECIMAL(18,2) COMMENT 'Amount in the transaction currency',
  currency       STRING COMMENT 'ISO 4217 currency code',
  card_token     STRING COMMENT 'Tokenised card reference (see payments.card_tokens)',
  hour           STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'
)
USING parquet
PARTITIONED BY (hour)
COMMENT 'Every card transaction authorised, one row per transaction.'
TBLPROPERTIES (
  'mesh.producer' = 'payments_hourly.load_transactions',
  'mesh.schedule' = '@hourly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01'
);
