-- Owned by team payments. The folder is the owner; this file is the table's contract.
CREATE TABLE payments.settlements_daily (
  merchant_id   STRING COMMENT 'Merchant being settled',
  gross_amount  DECIMAL(18,2) COMMENT 'Sum of transactions',
  refund_amount DECIMAL(18,2) COMMENT 'Sum of refunds',
  net_amount    DECIMAL(18,2) COMMENT 'gross_amount minus refund_amount',
  day           STRING COMMENT 'Day of the data, yyyy-MM-dd (UTC)'
)
USING parquet
PARTITIONED BY (day)
COMMENT 'Net settled amount per merchant and day.'
TBLPROPERTIES (
  'mesh.producer' = 'payments_daily.build_settlements',
  'mesh.schedule' = '@daily',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'payments.transactions, payments.refunds'
);
