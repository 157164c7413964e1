//! Every action the audit trail records, as one list: a variant per action with its
//! dotted name, a description, and whether webhooks may subscribe to it. Surfaces name
//! events through [`EventKind`], so a misspelt name does not compile, and the names a
//! webhook can subscribe to are exactly [`EventKind::subscribable`] ones.
//!
//! Audit-only actions: sign-in and sign-out events (`auth.*`), which are about sessions
//! rather than the organisation's data and would flood receivers, and actions that the
//! offline `lakeward admin` commands alone record (they run without the server's webhook
//! dispatcher). Every other audited mutation (tables, rows, domains, constraints,
//! catalogs, schemas, API keys, members, teams, grants, the organisation, webhooks, storage connections and their objects, jobs) can be
//! delivered.

use std::fmt;
use std::str::FromStr;

macro_rules! events {
    ($($variant:ident = $name:literal, $delivery:ident, $description:literal;)*) => {
        /// One audited action; see the module documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventKind {
            $(#[doc = $description] $variant,)*
        }

        impl EventKind {
            /// Every event, grouped by what it is about.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The name stored in the audit trail and sent to webhooks, `table.created`.
            pub const fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $name,)* }
            }

            /// One sentence on what happened.
            pub const fn description(self) -> &'static str {
                match self { $(EventKind::$variant => $description,)* }
            }

            /// Whether a webhook may subscribe to it (and `*` includes it).
            pub const fn subscribable(self) -> bool {
                match self { $(EventKind::$variant => events!(@$delivery),)* }
            }
        }
    };
    (@webhook) => { true };
    (@audit_only) => { false };
}

events! {
    AuthOnboard = "auth.onboard", audit_only,
        "An organisation was created with its first admin (sign-up or `lakeward admin create-org`).";
    AuthLogin = "auth.login", audit_only, "A user signed in with email and password.";
    AuthLoginFailed = "auth.login_failed", audit_only,
        "A sign-in was refused: wrong password, or an unknown or inactive user.";
    AuthLogout = "auth.logout", audit_only, "A user signed out, ending the session.";

    OrganisationRenamed = "organisation.renamed", webhook, "The organisation's name changed.";
    MemberInvited = "member.invited", webhook, "Someone was invited to join with a role.";
    MemberInviteAccepted = "member.invite_accepted", webhook, "An invitation was accepted: the invitee is a member.";
    MemberCreated = "member.created", audit_only, "A member was added offline by `lakeward admin create-user`.";
    MemberRoleChanged = "member.role_changed", webhook, "A member's role changed.";
    MemberDeactivated = "member.deactivated", webhook, "A member was deactivated: their sessions and keys stop working.";
    TeamCreated = "team.created", webhook, "A team was created.";
    TeamUpdated = "team.updated", webhook, "A team was renamed or its description changed.";
    TeamDeleted = "team.deleted", webhook, "A team was deleted, with its memberships and the grants naming it.";
    TeamMemberAdded = "team.member_added", webhook, "A member joined a team.";
    TeamMemberRemoved = "team.member_removed", webhook, "A member left a team.";
    GrantCreated = "grant.created", webhook, "Privileges on a catalog, schema or table were granted to a user or a team.";
    GrantRevoked = "grant.revoked", webhook, "A grant was revoked.";
    MemberDeleted = "member.deleted", webhook, "A member was removed from the organisation.";

    ApiKeyCreated = "apikey.created", webhook, "An API key was created.";
    ApiKeyUpdated = "apikey.updated", webhook, "An API key's name or expiry changed.";
    ApiKeyRevoked = "apikey.revoked", webhook, "An API key was revoked, for good.";

    WebhookCreated = "webhook.created", webhook, "A webhook was registered.";
    WebhookUpdated = "webhook.updated", webhook, "A webhook's URL, events, description or activity changed.";
    WebhookDeleted = "webhook.deleted", webhook, "A webhook was removed.";

    CatalogCreated = "catalog.created", webhook, "A catalog was created.";
    CatalogDropped = "catalog.dropped", webhook, "An empty catalog was dropped.";
    SchemaCreated = "schema.created", webhook, "A schema was created in a catalog.";
    SchemaDropped = "schema.dropped", webhook, "An empty schema was dropped.";

    TableCreated = "table.created", webhook, "A table was created.";
    TableUpdated = "table.updated", webhook,
        "A table's definition changed: description, columns, column metadata or types.";
    TableDeleted = "table.deleted", webhook, "A table was dropped.";
    TableRolledBack = "table.rolled_back", webhook, "A table was restored to an earlier version.";
    TableCloned = "table.cloned", webhook, "A table was cloned into a new table (deep or shallow).";
    CloneRolledBack = "clone.rolled_back", webhook, "The tables a clone made were removed.";
    TableVacuumed = "table.vacuumed", webhook, "Data files no retained version needs were removed from a table.";
    TableOptimized = "table.optimized", webhook, "A table's files were rewritten into fewer (compacted or Z-ordered); its rows did not change.";

    RowBatchInserted = "row.batch_inserted", webhook, "Rows were inserted, by a row write or an import.";
    RowsUpserted = "rows.upserted", webhook, "Rows were inserted or updated on the primary key.";
    RowsUpdated = "rows.updated", webhook, "Rows matching a filter were updated.";
    RowsDeleted = "rows.deleted", webhook, "Rows matching a filter were deleted.";

    DomainSet = "domain.set", webhook, "A column's domain was set or replaced.";
    DomainValuesChanged = "domain.values_changed", webhook,
        "Values, parents or children of a column's domain were added, replaced or removed.";
    DomainRemoved = "domain.removed", webhook, "A column's domain was removed.";
    ConstraintAdded = "constraint.added", webhook, "A CHECK constraint was added to a table.";
    ConstraintDropped = "constraint.dropped", webhook, "A CHECK constraint was dropped.";

    StorageConnectionCreated = "storage.connection_created", webhook,
        "A storage connection (S3, Azure or GCS) was registered, after its checks passed.";
    StorageConnectionUpdated = "storage.connection_updated", webhook,
        "A storage connection's settings or credentials changed (re-tested).";
    StorageConnectionDeleted = "storage.connection_deleted", webhook,
        "A storage connection was removed; its tables were unregistered, their data kept.";
    StorageConnectionTested = "storage.connection_tested", webhook, "A storage connection's checks were run again.";
    StorageTablesDiscovered = "storage.tables_discovered", webhook,
        "Discovery registered the tables found on a storage connection (and reported vanished ones).";
    StorageObjectsUploaded = "storage.objects_uploaded", webhook, "Files were uploaded to a storage connection.";
    StorageObjectDeleted = "storage.object_deleted", webhook, "An object was deleted from a storage connection.";

    JobCancelled = "job.cancelled", webhook, "A running job was cancelled; it committed nothing.";
}

impl EventKind {
    /// The events webhooks may subscribe to, in [`EventKind::ALL`]'s order.
    pub fn subscribable_events() -> impl Iterator<Item = EventKind> {
        EventKind::ALL.iter().copied().filter(|e| e.subscribable())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event `{0}`")]
pub struct UnknownEvent(pub String);

impl FromStr for EventKind {
    type Err = UnknownEvent;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        EventKind::ALL.iter().copied().find(|e| e.as_str() == raw).ok_or_else(|| UnknownEvent(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_is_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for &event in EventKind::ALL {
            assert_eq!(event.as_str().parse::<EventKind>(), Ok(event));
            assert_eq!(event.to_string(), event.as_str());
            assert!(seen.insert(event.as_str()), "{event} twice");
            let (family, verb) = event.as_str().split_once('.').expect("dotted");
            assert!(!family.is_empty() && !verb.is_empty() && !verb.contains('.'), "{event}");
            assert!(event.description().ends_with('.'), "{event}");
        }
        assert_eq!("table.exploded".parse::<EventKind>(), Err(UnknownEvent("table.exploded".into())));
        assert!("*".parse::<EventKind>().is_err(), "`*` is a subscription, not an event");
    }

    #[test]
    fn sessions_are_audit_only_and_data_changes_are_subscribable() {
        let audit_only: Vec<&str> = EventKind::ALL.iter().filter(|e| !e.subscribable()).map(|e| e.as_str()).collect();
        assert_eq!(audit_only, ["auth.onboard", "auth.login", "auth.login_failed", "auth.logout", "member.created"]);
        // The names of the Eddytor reference, and the ones existing receivers rely on.
        for name in [
            "table.created",
            "table.updated",
            "table.deleted",
            "row.batch_inserted",
            "rows.upserted",
            "rows.updated",
            "rows.deleted",
            "apikey.revoked",
            "job.cancelled",
        ] {
            assert!(name.parse::<EventKind>().unwrap().subscribable(), "{name}");
        }
    }
}
