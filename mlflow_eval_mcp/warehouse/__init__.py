"""Trace tables in a warehouse: MLflow's OTel v2 span table (Unity Catalog on Databricks, Parquet or Delta
locally) queried with SQL where the data is, on local Spark or a Databricks SQL warehouse."""
