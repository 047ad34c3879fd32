-- Owned by team payments. The folder is the owner; this file is the table's contract.
CREATE TABLE payments.refunds (
  refund_id      STRING COMMENT 'Unique id of the refund',
  transaction_id STRING COMMENT 'Refunded transaction',
  amount         DECIMAL(18,2) COMMENT 'Refunded amount in the transaction currency',
  hour           STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'
)
USING parquet
PARTITIONED BY (hour)
COMMENT 'Refunds issued to shoppers.'
TBLPROPERTIES (
  'mesh.producer' = 'payments_hourly.load_refunds',
  'mesh.schedule' = '@hourly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01'
);
