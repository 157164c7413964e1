-- Teams of an organisation's members, and grants of privileges on catalogs, schemas and
-- tables to users or teams. A grant names its object by name (`main`, `main.crm`,
-- `main.crm.customers`), so a grant on a catalog or schema covers tables made later.
CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    team_id  TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE grants (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organisations(id),
    securable_type TEXT NOT NULL,
    securable      TEXT NOT NULL,
    grantee_type   TEXT NOT NULL,
    grantee_id     TEXT NOT NULL,
    privilege      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    created_by     TEXT,
    UNIQUE (org_id, securable_type, securable, grantee_type, grantee_id, privilege)
);
CREATE INDEX grants_grantee ON grants (org_id, grantee_type, grantee_id)
