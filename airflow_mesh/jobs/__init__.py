"""Spark applications of the example mesh (submitted by ``SparkYarnOperator``)."""
