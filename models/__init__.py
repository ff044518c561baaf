"""The ledger and its rules: tables, stages, transitions, audit trail, queries."""
