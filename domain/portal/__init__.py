"""Client-portal connections (docs/portal/): a consented, scheduled, drift-checked mirror of a client's portal
login. models: the rows; connection: create, read, pause, resume, delete; mirror: what a sync writes;
surfaces: reading what was imported."""
