-- Owned by team payments. The folder is the owner; this file is the table's contract.
CREATE TABLE payments.card_tokens (
  card_token     STRING COMMENT 'Tokenised card reference',
  bin            STRING COMMENT 'Bank identification number',
  issuer_country STRING COMMENT 'Country of the issuing bank',
  hour           STRING COMMENT 'Hour of the data, yyyy-MM-ddTHH (UTC), start of the covered period'
)
USING parquet
PARTITIONED BY (hour)
COMMENT 'Mapping of card tokens to card metadata. Restricted: PCI scope.'
TBLPROPERTIES (
  'mesh.producer' = 'payments_hourly.load_card_tokens',
  'mesh.schedule' = '@hourly',
  'mesh.access' = 'private',
  'mesh.start_date' = '2026-01-01'
);
