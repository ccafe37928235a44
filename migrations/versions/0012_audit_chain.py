"""audit chain: the app's own database role (INSERT and SELECT on the audit log, no ownership) and a hash chain
over the audit log, so neither the app nor a later edit can rewrite history unnoticed (issue 13, medium 7).

Revision ID: 0012_audit_chain
Revises: 0001_foundation
"""

from alembic import op

revision = '0012_audit_chain'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None

# The role every API, worker and CLI connection acts as (settings.database_app_role). NOLOGIN: a deployment
# logs in as a user that is a member of it (docs/security.md), or as the owner that then SETs ROLE to it.
APP_ROLE = "taxpractice_app"
# The first row of each firm's chain links to this: 32 zero bytes.
GENESIS = "'\\x" + "00" * 32 + "'::bytea"


def upgrade() -> None:
    # Roles are cluster-wide: another database of the same cluster (a test's scratch database, a second
    # deployment) may have created it already.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$""")
    # Every table the app uses, now and later: reading and writing rows, never owning (so no ALTER TABLE,
    # DISABLE TRIGGER, DROP) and never TRUNCATE. Other branches' migrations may run before or after this one
    # ("heads"): the grant covers the tables already there, the default privileges those created afterwards by
    # the same migrating role.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES "
               f"TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {APP_ROLE}")  # the schema's version is the migrator's
    # The audit log: append and read only.
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {APP_ROLE}")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")

    op.execute("ALTER TABLE audit_log ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash bytea, "
               "ADD COLUMN row_hash bytea")
    # The head of each firm's chain: its last sequence number and hash. Its row lock serialises a firm's appends
    # (held to the end of the appending transaction, as the next append must link to a committed row); FOR
    # UPDATE in READ COMMITTED reads the latest committed head whatever the statement's snapshot. It also
    # names the tail, so a deleted last row is a break too.
    op.execute(f"""
        CREATE TABLE audit_chain_heads (
            firm_id uuid PRIMARY KEY,
            chain_seq bigint NOT NULL,
            row_hash bytea NOT NULL
        )""")
    op.execute(f"REVOKE ALL ON audit_chain_heads FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON audit_chain_heads TO {APP_ROLE}")
    # What a row's hash covers: every column but the hashes, as one JSON array (jsonb's text is canonical:
    # keys sorted, nulls explicit), the time as integer microseconds since the epoch so the session's TimeZone
    # changes nothing. `taxpractice audit verify` recomputes it with this same function.
    op.execute("""
        CREATE FUNCTION audit_log_row_hash(prev bytea, r audit_log) RETURNS bytea
        LANGUAGE sql IMMUTABLE AS $$
            SELECT sha256(prev || convert_to(jsonb_build_array(
                r.id, r.firm_id, r.chain_seq, (extract(epoch FROM r.occurred_at) * 1000000)::bigint,
                r.actor_id, r.actor_role, r.action, r.resource_type, r.resource_id, r.client_id,
                r.correlation_id, r.request_id, host(r.ip_address), r.details)::text, 'UTF8'))
        $$""")
    # The append: in the database, so every insert path is chained and the app cannot write the hash itself.
    # SECURITY DEFINER: the app role reads but never writes the chain heads.
    op.execute(f"""
        CREATE FUNCTION audit_log_chain() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            head audit_chain_heads%ROWTYPE;
        BEGIN
            SELECT * INTO head FROM audit_chain_heads WHERE firm_id = NEW.firm_id FOR UPDATE;
            IF NOT FOUND THEN  -- the firm's first row: start its chain (once, even if two start together)
                INSERT INTO audit_chain_heads (firm_id, chain_seq, row_hash) VALUES (NEW.firm_id, 0, {GENESIS})
                    ON CONFLICT (firm_id) DO NOTHING;
                SELECT * INTO head FROM audit_chain_heads WHERE firm_id = NEW.firm_id FOR UPDATE;
            END IF;
            NEW.chain_seq := head.chain_seq + 1;
            NEW.prev_hash := head.row_hash;
            NEW.row_hash := audit_log_row_hash(NEW.prev_hash, NEW);
            UPDATE audit_chain_heads SET chain_seq = NEW.chain_seq, row_hash = NEW.row_hash
                WHERE firm_id = NEW.firm_id;
            RETURN NEW;
        END $$""")

    # The rows written before this revision join the chain in the order they were written.
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
    op.execute(f"""
        DO $$
        DECLARE
            r audit_log%ROWTYPE;
            last_firm uuid := NULL;
            seq bigint;
            prev bytea;
        BEGIN
            FOR r IN SELECT * FROM audit_log ORDER BY firm_id, id LOOP
                IF last_firm IS DISTINCT FROM r.firm_id THEN
                    IF last_firm IS NOT NULL THEN
                        INSERT INTO audit_chain_heads VALUES (last_firm, seq, prev);
                    END IF;
                    last_firm := r.firm_id; seq := 0; prev := {GENESIS};
                END IF;
                seq := seq + 1;
                r.chain_seq := seq; r.prev_hash := prev;
                prev := audit_log_row_hash(prev, r);
                UPDATE audit_log SET chain_seq = seq, prev_hash = r.prev_hash, row_hash = prev WHERE id = r.id;
            END LOOP;
            IF last_firm IS NOT NULL THEN
                INSERT INTO audit_chain_heads VALUES (last_firm, seq, prev);
            END IF;
        END $$""")
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
    op.execute("ALTER TABLE audit_log ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, "
               "ALTER COLUMN row_hash SET NOT NULL")
    op.execute("CREATE UNIQUE INDEX ix_audit_log_firm_chain ON audit_log (firm_id, chain_seq)")
    op.execute("CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION audit_log_chain()")


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION audit_log_chain()")
    op.execute("DROP FUNCTION audit_log_row_hash(bytea, audit_log)")
    op.execute("DROP INDEX ix_audit_log_firm_chain")
    op.execute("DROP TABLE audit_chain_heads")
    op.execute("ALTER TABLE audit_log DROP COLUMN row_hash, DROP COLUMN prev_hash, DROP COLUMN chain_seq")
    # The role stays (other databases of the cluster may use it); its rights in this database go.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
