"""Data stage: load any long table, clean transactions, build the daily SKU panel, segment SKUs."""
