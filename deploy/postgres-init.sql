-- Run once, when the PostgreSQL container first creates its data folder: the Prefect
-- server keeps its state in a database of its own beside Rectify's.
CREATE DATABASE prefect OWNER rectify;
