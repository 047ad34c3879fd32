-- Owned by team risk. The folder is the owner; this file is the table's contract.
CREATE TABLE risk.chargeback_ratio_weekly (
  merchant_id      STRING COMMENT 'Merchant',
  chargeback_ratio DOUBLE COMMENT 'Chargebacks divided by transactions',
  week             STRING COMMENT 'First day (Sunday) of the week of the data, yyyy-MM-dd'
)
USING parquet
PARTITIONED BY (week)
COMMENT 'Weekly chargeback ratio per merchant (internal to risk).'
TBLPROPERTIES (
  'mesh.producer' = 'risk_weekly.build_chargeback_ratio',
  'mesh.schedule' = '@weekly',
  'mesh.access' = 'private',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'payments.settlements_daily, risk.fraud_scores_daily'
);
