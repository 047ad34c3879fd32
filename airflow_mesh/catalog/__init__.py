"""The registry's tables in a real Spark catalog: Spark parses the DDL and creates the tables."""
