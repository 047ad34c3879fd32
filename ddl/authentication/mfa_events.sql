-- Owned by team authentication. The folder is the owner; this file is the table's contract.
CREATE TABLE auth.mfa_events (
  event_id   STRING COMMENT 'Unique id of the challenge',
  account_id STRING COMMENT 'Challenged account',
  method     STRING COMMENT 'sms, totp or webauthn',
  passed     BOOLEAN COMMENT 'Whether the challenge was passed',
  hour       STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'
)
USING parquet
PARTITIONED BY (hour)
COMMENT 'Multi-factor challenges and their outcome. Restricted: security data.'
TBLPROPERTIES (
  'mesh.producer' = 'authentication_hourly.load_mfa_events',
  'mesh.schedule' = '@hourly',
  'mesh.access' = 'private',
  'mesh.start_date' = '2026-01-01'
);
