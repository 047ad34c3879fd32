-- Owned by team authentication. The folder is the owner; this file is the table's contract.
CREATE TABLE auth.sessions_daily (
  account_id STRING COMMENT 'Account',
  sessions   BIGINT COMMENT 'Number of sessions started',
  mfa_rate   DOUBLE COMMENT 'Share of sessions that passed MFA',
  day        STRING COMMENT 'Day of the data, yyyy-MM-dd (UTC)'
)
USING parquet
PARTITIONED BY (day)
COMMENT 'Sessions per account and day.'
TBLPROPERTIES (
  'mesh.producer' = 'authentication_daily.build_sessions',
  'mesh.schedule' = '@daily',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01',
  'mesh.inputs' = 'auth.logins, auth.mfa_events'
);
