-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
-- two physical shards per service. Each service migrates its own shards at start-up
-- (MIGRATE_ON_START=true); this only creates the empty databases, owned by the app user.
CREATE DATABASE boxoffice_users_0;
CREATE DATABASE boxoffice_users_1;
CREATE DATABASE boxoffice_events_0;
CREATE DATABASE boxoffice_events_1;
CREATE DATABASE boxoffice_inventory_0;
CREATE DATABASE boxoffice_inventory_1;
CREATE DATABASE boxoffice_payments_0;
CREATE DATABASE boxoffice_payments_1;
