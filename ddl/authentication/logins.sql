-- Owned by team authentication. The folder is the owner; this file is the table's contract.
CREATE TABLE auth.logins (
  login_id   STRING COMMENT 'Unique id of the attempt',
  account_id STRING COMMENT 'Account logging in',
  success    BOOLEAN COMMENT 'Whether the login succeeded',
  ip_country STRING COMMENT 'Country of the client IP',
  hour       STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'
)
USING parquet
PARTITIONED BY (hour)
COMMENT 'Login attempts to merchant and shopper accounts.'
TBLPROPERTIES (
  'mesh.producer' = 'authentication_hourly.load_logins',
  'mesh.schedule' = '@hourly',
  'mesh.access' = 'public',
  'mesh.start_date' = '2026-01-01'
);
