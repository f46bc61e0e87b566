-- csv-import.sql - the baseline of bench workloads 6 and 7: the sqlite3
-- shell's .import of the customers CSV into a keyed table of JSON items
-- (the item the ingest writes: balance a number; an empty city or notes
-- is null here, left out there). bench/bench.lua runs it as
--   sqlite3 DB ".read FILE"
-- with the CSV's path in place of CSV_PATH.
.bail on
CREATE TABLE customers(id TEXT PRIMARY KEY, item TEXT NOT NULL) WITHOUT ROWID;
CREATE TEMP TABLE staging(id, name, email, city, joined, balance, notes);
.import --csv --skip 1 CSV_PATH staging
INSERT OR REPLACE INTO customers
  SELECT id, json_object('id', id, 'name', name, 'email', email,
                         'city', nullif(city, ''), 'joined', joined,
                         'balance', CAST(balance AS REAL),
                         'notes', nullif(notes, ''))
  FROM staging WHERE id <> '';
SELECT count(*) FROM customers;
