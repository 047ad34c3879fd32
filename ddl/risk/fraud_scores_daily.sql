-- Owned by team risk. The folder is the owner; this file is the table's contract.
CREATE TABLE risk.fraud_scores_daily (
  merchant_id   STRING COMMENT 'Scored merchant',
  fraud_score   DOUBLE COMMENT 'Probability of fraud, 0 to 1',
  model_version STRING COMMENT 'Version of the scoring model',
  day           STRING COMMENT 'Day of the data, yyyy-MM-dd (UTC)'
)
USING parquet
PARTITIONED BY (day)
COMMENT 'Fraud score per merchant and day, from transactions and login behaviour.'
TBLPROPERTIES (
  'mesh.producer' = 'risk_daily.score_fraud',
  'mesh.schedule' = '@daily',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'payments.transactions, auth.logins'
);
