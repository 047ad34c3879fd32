-- Owned by team risk. The folder is the owner; this file is the table's contract.
CREATE TABLE risk.merchant_risk (
  merchant_id STRING COMMENT 'Merchant',
  risk_tier   STRING COMMENT 'low, medium or high',
  exposure    DECIMAL(18,2) COMMENT 'Settled amount at risk',
  day         STRING COMMENT 'Day of the data: period starting 02:30 UTC, yyyy-MM-dd'
)
USING parquet
PARTITIONED BY (day)
COMMENT 'Merchant risk tier, recomputed daily at 02:30 UTC.'
TBLPROPERTIES (
  'mesh.producer' = 'risk_merchant.build_merchant_risk',
  'mesh.schedule' = '30 2 * * *',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'risk.fraud_scores_daily, payments.settlements_daily'
);
