//! The access model: roles, scopes, actions and the one authorization function.
//!
//! Every surface of the server (REST today; SQL, GraphQL, Flight SQL later) resolves a
//! [`Principal`], names the [`Action`] it wants on a [`Resource`], and calls
//! [`authorize`]. Nothing else decides permissions.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Organisation roles. Cumulative: each role has every permission of those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read, query and export data; view schemas.
    Viewer,
    /// + write rows and run imports.
    Editor,
    /// + schema, domains, constraints, storage connections and API keys.
    Builder,
    /// + members, organisation settings and the audit trail.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Builder, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Builder => "builder",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// Every scope this role holds.
    pub fn scopes(self) -> ScopeSet {
        Scope::ALL.iter().filter(|s| s.min_role() <= self).copied().collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! scopes {
    ($($variant:ident = $name:literal => $role:ident,)*) => {
        /// API key scopes, named as in the Eddytor reference.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Scope { $($variant,)* }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name,)* }
            }

            /// The lowest role that holds this scope.
            pub fn min_role(self) -> Role {
                match self { $(Scope::$variant => Role::$role,)* }
            }
        }
    };
}

scopes! {
    TablesQuery = "tables:query" => Viewer,
    TablesRead = "tables:read" => Viewer,
    TablesCreate = "tables:create" => Builder,
    TablesModify = "tables:modify" => Builder,
    TablesImport = "tables:import" => Editor,
    RowsInsert = "rows:insert" => Editor,
    RowsUpdate = "rows:update" => Editor,
    RowsDelete = "rows:delete" => Editor,
    DomainsRead = "domains:read" => Viewer,
    DomainsWrite = "domains:write" => Builder,
    ConnectionsRead = "connections:read" => Viewer,
    ConnectionsCreate = "connections:create" => Builder,
    ConnectionsDelete = "connections:delete" => Builder,
    StorageRead = "storage:read" => Viewer,
    ObjectsRead = "objects:read" => Viewer,
    ObjectsDownload = "objects:download" => Viewer,
    ObjectsDelete = "objects:delete" => Builder,
    // Not in the reference, which has no uploads scope: writing files into a connected
    // bucket is managing that storage, so builders, like deleting objects.
    ObjectsUpload = "objects:upload" => Builder,
    AiQuery = "ai:query" => Viewer,
    AiCredentialsRead = "ai:credentials:read" => Builder,
    AiCredentialsWrite = "ai:credentials:write" => Builder,
    ApikeysRead = "apikeys:read" => Builder,
    ApikeysCreate = "apikeys:create" => Builder,
    ApikeysUpdate = "apikeys:update" => Builder,
    ApikeysRevoke = "apikeys:revoke" => Builder,
    OrgRead = "org:read" => Viewer,
    OrgUpdate = "org:update" => Admin,
    // Not in the Eddytor reference, whose roles have no audit trail: the trail is for
    // admins, so its scope must be one only admins hold, or a refusal would name a scope
    // the caller already has.
    AuditRead = "audit:read" => Admin,
    WebhooksRead = "webhooks:read" => Builder,
    WebhooksWrite = "webhooks:write" => Builder,
    // Not in the reference either: `GET /metrics` shows the whole server's traffic (counts
    // by route, no names), which is an operator's concern, so admins only.
    MetricsRead = "metrics:read" => Admin,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scope presets accepted wherever scopes are: `read`, `write`, `admin`.
pub fn preset_scopes(name: &str) -> Option<ScopeSet> {
    match name {
        "read" => Some(Role::Viewer.scopes()),
        "write" => Some(Role::Builder.scopes()),
        "admin" => Some(Role::Admin.scopes()),
        _ => None,
    }
}

/// A set of scopes, one bit per [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ScopeSet(u64);

impl ScopeSet {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u64) != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1 << scope as u64;
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.iter().copied().filter(move |s| self.contains(*s))
    }

    /// Scope names in their canonical order.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }

    /// Parses scope names and presets; returns the first unknown name on failure.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<ScopeSet, String> {
        let mut set = ScopeSet::default();
        for name in names {
            if let Some(preset) = preset_scopes(name) {
                set.0 |= preset.0;
            } else if let Some(scope) = Scope::parse(name) {
                set.insert(scope);
            } else {
                return Err(name.to_owned());
            }
        }
        Ok(set)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

/// Who is asking: a signed-in user, or an API key acting for the user who created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub org_id: Uuid,
    /// The user's current role (for a key: its creator's current role).
    pub role: Role,
    pub credential: Credential,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Session { session_id: Uuid },
    ApiKey { key_id: Uuid, scopes: ScopeSet },
}

impl Principal {
    /// The scopes this principal effectively holds: its role's, narrowed by a key's scopes.
    pub fn effective_scopes(&self) -> ScopeSet {
        let role = self.role.scopes();
        match &self.credential {
            Credential::Session { .. } => role,
            Credential::ApiKey { scopes, .. } => ScopeSet(role.0 & scopes.0),
        }
    }
}

/// What the principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    OrgRead,
    OrgUpdate,
    MembersRead,
    MembersManage,
    AuditRead,
    ApiKeysRead,
    ApiKeysCreate,
    ApiKeysUpdate,
    ApiKeysRevoke,
    TablesQuery,
    TablesRead,
    TablesCreate,
    TablesModify,
    TablesImport,
    RowsInsert,
    RowsUpdate,
    RowsDelete,
    DomainsRead,
    DomainsWrite,
    WebhooksRead,
    WebhooksWrite,
    MetricsRead,
    ConnectionsRead,
    /// Registering or changing a storage connection.
    ConnectionsManage,
    ConnectionsDelete,
    /// The tables a connection holds (and discovering them).
    StorageRead,
    ObjectsRead,
    ObjectsDownload,
    ObjectsDelete,
    ObjectsUpload,
    /// Granting and revoking privileges on a catalog, schema or table.
    GrantsManage,
}

impl Action {
    pub const ALL: [Action; 31] = [
        Action::OrgRead,
        Action::OrgUpdate,
        Action::MembersRead,
        Action::MembersManage,
        Action::AuditRead,
        Action::ApiKeysRead,
        Action::ApiKeysCreate,
        Action::ApiKeysUpdate,
        Action::ApiKeysRevoke,
        Action::TablesQuery,
        Action::TablesRead,
        Action::TablesCreate,
        Action::TablesModify,
        Action::TablesImport,
        Action::RowsInsert,
        Action::RowsUpdate,
        Action::RowsDelete,
        Action::DomainsRead,
        Action::DomainsWrite,
        Action::WebhooksRead,
        Action::WebhooksWrite,
        Action::MetricsRead,
        Action::ConnectionsRead,
        Action::ConnectionsManage,
        Action::ConnectionsDelete,
        Action::StorageRead,
        Action::ObjectsRead,
        Action::ObjectsDownload,
        Action::ObjectsDelete,
        Action::ObjectsUpload,
        Action::GrantsManage,
    ];

    /// The scope an API key must carry for this action.
    pub fn required_scope(self) -> Scope {
        match self {
            Action::OrgRead | Action::MembersRead => Scope::OrgRead,
            Action::AuditRead => Scope::AuditRead,
            Action::OrgUpdate | Action::MembersManage | Action::GrantsManage => Scope::OrgUpdate,
            Action::ApiKeysRead => Scope::ApikeysRead,
            Action::ApiKeysCreate => Scope::ApikeysCreate,
            Action::ApiKeysUpdate => Scope::ApikeysUpdate,
            Action::ApiKeysRevoke => Scope::ApikeysRevoke,
            Action::TablesQuery => Scope::TablesQuery,
            Action::TablesRead => Scope::TablesRead,
            Action::TablesCreate => Scope::TablesCreate,
            Action::TablesModify => Scope::TablesModify,
            Action::TablesImport => Scope::TablesImport,
            Action::RowsInsert => Scope::RowsInsert,
            Action::RowsUpdate => Scope::RowsUpdate,
            Action::RowsDelete => Scope::RowsDelete,
            Action::DomainsRead => Scope::DomainsRead,
            Action::DomainsWrite => Scope::DomainsWrite,
            Action::WebhooksRead => Scope::WebhooksRead,
            Action::WebhooksWrite => Scope::WebhooksWrite,
            Action::MetricsRead => Scope::MetricsRead,
            Action::ConnectionsRead => Scope::ConnectionsRead,
            Action::ConnectionsManage => Scope::ConnectionsCreate,
            Action::ConnectionsDelete => Scope::ConnectionsDelete,
            Action::StorageRead => Scope::StorageRead,
            Action::ObjectsRead => Scope::ObjectsRead,
            Action::ObjectsDownload => Scope::ObjectsDownload,
            Action::ObjectsDelete => Scope::ObjectsDelete,
            Action::ObjectsUpload => Scope::ObjectsUpload,
        }
    }

    /// The lowest role allowed to do this: always its scope's, so that a refusal naming
    /// the scope names something the refused role does not hold.
    pub fn min_role(self) -> Role {
        self.required_scope().min_role()
    }

    /// The privilege on a catalog, schema or table that a grant must give for this action,
    /// for the actions grants can allow.
    pub fn privilege(self) -> Option<Privilege> {
        Some(match self {
            Action::TablesRead | Action::DomainsRead => Privilege::Read,
            Action::TablesQuery => Privilege::Query,
            Action::RowsInsert | Action::TablesImport => Privilege::Insert,
            Action::RowsUpdate => Privilege::Update,
            Action::RowsDelete => Privilege::Delete,
            Action::TablesModify | Action::DomainsWrite => Privilege::Modify,
            Action::GrantsManage => Privilege::Manage,
            _ => return None,
        })
    }
}

/// What a grant on a catalog, schema or table gives (on it and everything under it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Privilege {
    /// Read rows, export, search, see the definition and domains.
    Read,
    /// Query with SQL (and Flight SQL).
    Query,
    /// Insert rows and import into the table.
    Insert,
    Update,
    Delete,
    /// Change the definition: columns, domains, constraints, properties.
    Modify,
    /// Grant and revoke privileges on the object (never more than the granter holds).
    Manage,
}

impl Privilege {
    pub const ALL: [Privilege; 7] = [
        Privilege::Read,
        Privilege::Query,
        Privilege::Insert,
        Privilege::Update,
        Privilege::Delete,
        Privilege::Modify,
        Privilege::Manage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Read => "read",
            Privilege::Query => "query",
            Privilege::Insert => "insert",
            Privilege::Update => "update",
            Privilege::Delete => "delete",
            Privilege::Modify => "modify",
            Privilege::Manage => "manage",
        }
    }

    pub fn parse(raw: &str) -> Option<Privilege> {
        Privilege::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// The action that stands for this privilege: a role holds the privilege on every
    /// object exactly when it may do that action.
    fn action(self) -> Action {
        match self {
            Privilege::Read => Action::TablesRead,
            Privilege::Query => Action::TablesQuery,
            Privilege::Insert => Action::RowsInsert,
            Privilege::Update => Action::RowsUpdate,
            Privilege::Delete => Action::RowsDelete,
            Privilege::Modify => Action::TablesModify,
            Privilege::Manage => Action::GrantsManage,
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of privileges, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PrivilegeSet(u8);

impl PrivilegeSet {
    pub fn contains(self, p: Privilege) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    pub fn insert(&mut self, p: Privilege) {
        self.0 |= 1 << p as u8;
    }

    pub fn iter(self) -> impl Iterator<Item = Privilege> {
        Privilege::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Privilege> for PrivilegeSet {
    fn from_iter<I: IntoIterator<Item = Privilege>>(iter: I) -> Self {
        let mut set = PrivilegeSet::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// The privileges a principal holds on one object: those its credential allows for every
/// object (its role, narrowed by a key's scopes) together with those granted to it or
/// its teams on the object or above it (`granted`), which count for a key only where its
/// scopes allow the action.
pub fn effective_privileges(principal: &Principal, granted: PrivilegeSet) -> PrivilegeSet {
    Privilege::ALL
        .into_iter()
        .filter(|p| authorize(principal, p.action(), &Resource::Granted { org_id: principal.org_id, granted }).is_ok())
        .collect()
}

/// What the action is on. Every resource belongs to exactly one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Organisation {
        org_id: Uuid,
    },
    Member {
        org_id: Uuid,
        user_id: Uuid,
    },
    /// API keys are private to their owner, except that admins manage all keys.
    ApiKey {
        org_id: Uuid,
        owner_id: Uuid,
    },
    /// Any table-level resource (tables, rows, domains) of an organisation.
    Table {
        org_id: Uuid,
    },
    /// One catalog, schema or table, with the privileges granted on it (or above it) to
    /// the principal or its teams: they allow what the role alone does not.
    Granted {
        org_id: Uuid,
        granted: PrivilegeSet,
    },
}

impl Resource {
    pub fn org_id(&self) -> Uuid {
        match self {
            Resource::Organisation { org_id }
            | Resource::Member { org_id, .. }
            | Resource::ApiKey { org_id, .. }
            | Resource::Table { org_id }
            | Resource::Granted { org_id, .. } => *org_id,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The resource is not visible to the principal at all (another organisation's,
    /// or another user's key): answer exactly as if it did not exist.
    NotFound,
    /// The resource is visible, but the role or the key's scopes do not allow the action.
    Forbidden { required_scope: Scope },
}

/// The one authorization function.
pub fn authorize(principal: &Principal, action: Action, resource: &Resource) -> Result<(), Denied> {
    if resource.org_id() != principal.org_id {
        return Err(Denied::NotFound);
    }
    if let Resource::ApiKey { owner_id, .. } = resource
        && *owner_id != principal.user_id
        && principal.role != Role::Admin
    {
        return Err(Denied::NotFound);
    }
    let required_scope = action.required_scope();
    let granted = match resource {
        Resource::Granted { granted, .. } => action.privilege().is_some_and(|p| granted.contains(p)),
        _ => false,
    };
    let role_allows = principal.role >= action.min_role() || granted;
    let key_allows = match &principal.credential {
        Credential::Session { .. } => true,
        Credential::ApiKey { scopes, .. } => scopes.contains(required_scope),
    };
    if role_allows && key_allows { Ok(()) } else { Err(Denied::Forbidden { required_scope }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, org: Uuid) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            org_id: org,
            role,
            credential: Credential::Session { session_id: Uuid::from_u128(9) },
        }
    }

    fn key(role: Role, org: Uuid, scopes: ScopeSet) -> Principal {
        Principal { credential: Credential::ApiKey { key_id: Uuid::from_u128(7), scopes }, ..user(role, org) }
    }

    const ORG: Uuid = Uuid::from_u128(100);
    const OTHER_ORG: Uuid = Uuid::from_u128(200);

    fn resource_for(action: Action, org: Uuid) -> Resource {
        match action {
            Action::OrgRead
            | Action::OrgUpdate
            | Action::AuditRead
            | Action::WebhooksRead
            | Action::WebhooksWrite
            | Action::MetricsRead
            | Action::ConnectionsRead
            | Action::ConnectionsManage
            | Action::ConnectionsDelete
            | Action::StorageRead
            | Action::ObjectsRead
            | Action::ObjectsDownload
            | Action::ObjectsDelete
            | Action::ObjectsUpload => Resource::Organisation { org_id: org },
            Action::MembersRead | Action::MembersManage => {
                Resource::Member { org_id: org, user_id: Uuid::from_u128(2) }
            }
            Action::ApiKeysRead | Action::ApiKeysCreate | Action::ApiKeysUpdate | Action::ApiKeysRevoke => {
                Resource::ApiKey { org_id: org, owner_id: Uuid::from_u128(1) }
            }
            _ => Resource::Table { org_id: org },
        }
    }

    /// The whole table the reference describes, written out once by hand so that the
    /// test does not re-derive the rule it checks.
    fn expected_min_role(action: Action) -> Role {
        use Action::*;
        match action {
            OrgRead | MembersRead | TablesQuery | TablesRead | DomainsRead | ConnectionsRead | StorageRead
            | ObjectsRead | ObjectsDownload => Role::Viewer,
            TablesImport | RowsInsert | RowsUpdate | RowsDelete => Role::Editor,
            TablesCreate | TablesModify | DomainsWrite | ApiKeysRead | ApiKeysCreate | ApiKeysUpdate
            | ApiKeysRevoke | WebhooksRead | WebhooksWrite | ConnectionsManage | ConnectionsDelete | ObjectsDelete
            | ObjectsUpload => Role::Builder,
            OrgUpdate | MembersManage | AuditRead | MetricsRead | GrantsManage => Role::Admin,
        }
    }

    #[test]
    fn users_are_authorized_by_role_for_every_action() {
        for action in Action::ALL {
            for role in Role::ALL {
                let got = authorize(&user(role, ORG), action, &resource_for(action, ORG));
                if role >= expected_min_role(action) {
                    assert_eq!(got, Ok(()), "{role:?} {action:?}");
                } else {
                    assert_eq!(
                        got,
                        Err(Denied::Forbidden { required_scope: action.required_scope() }),
                        "{role:?} {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn keys_are_role_intersected_with_scopes_for_every_role_action_and_single_scope() {
        for action in Action::ALL {
            for role in Role::ALL {
                for &scope in Scope::ALL {
                    let principal = key(role, ORG, [scope].into_iter().collect());
                    let got = authorize(&principal, action, &resource_for(action, ORG));
                    let allowed = role >= expected_min_role(action) && scope == action.required_scope();
                    if allowed {
                        assert_eq!(got, Ok(()), "{role:?} {action:?} {scope:?}");
                    } else {
                        assert_eq!(
                            got,
                            Err(Denied::Forbidden { required_scope: action.required_scope() }),
                            "{role:?} {action:?} {scope:?}"
                        );
                    }
                }
                // A key with every scope is exactly as strong as its creator's role.
                let full = key(role, ORG, preset_scopes("admin").unwrap());
                assert_eq!(
                    authorize(&full, action, &resource_for(action, ORG)).is_ok(),
                    role >= expected_min_role(action)
                );
                // A key with no scopes can do nothing.
                let empty = key(role, ORG, ScopeSet::default());
                assert!(authorize(&empty, action, &resource_for(action, ORG)).is_err());
            }
        }
    }

    #[test]
    fn another_organisations_resource_is_not_found_for_everyone() {
        for action in Action::ALL {
            for role in Role::ALL {
                let res = resource_for(action, OTHER_ORG);
                assert_eq!(authorize(&user(role, ORG), action, &res), Err(Denied::NotFound));
                let k = key(role, ORG, preset_scopes("admin").unwrap());
                assert_eq!(authorize(&k, action, &res), Err(Denied::NotFound));
            }
        }
    }

    #[test]
    fn another_users_key_is_hidden_except_from_admins() {
        let foreign_key = Resource::ApiKey { org_id: ORG, owner_id: Uuid::from_u128(55) };
        for role in [Role::Viewer, Role::Editor, Role::Builder] {
            assert_eq!(authorize(&user(role, ORG), Action::ApiKeysRead, &foreign_key), Err(Denied::NotFound));
        }
        assert_eq!(authorize(&user(Role::Admin, ORG), Action::ApiKeysRevoke, &foreign_key), Ok(()));
    }

    #[test]
    fn grants_widen_what_a_session_may_do_on_the_object_and_nothing_else() {
        let insert: PrivilegeSet = [Privilege::Insert].into_iter().collect();
        let granted = Resource::Granted { org_id: ORG, granted: insert };
        let viewer = user(Role::Viewer, ORG);
        assert_eq!(authorize(&viewer, Action::RowsInsert, &granted), Ok(()));
        assert_eq!(authorize(&viewer, Action::TablesImport, &granted), Ok(()));
        for action in
            [Action::RowsUpdate, Action::RowsDelete, Action::TablesModify, Action::GrantsManage, Action::TablesCreate]
        {
            assert_eq!(
                authorize(&viewer, action, &granted),
                Err(Denied::Forbidden { required_scope: action.required_scope() }),
                "{action:?}"
            );
        }
        // Nothing granted elsewhere: the plain table resource still follows the role.
        assert!(authorize(&viewer, Action::RowsInsert, &resource_for(Action::RowsInsert, ORG)).is_err());
        // Another organisation's object stays invisible, grants or not.
        let foreign = Resource::Granted { org_id: OTHER_ORG, granted: insert };
        assert_eq!(authorize(&viewer, Action::RowsInsert, &foreign), Err(Denied::NotFound));
        // A key acts within its scopes: a grant does not give it a scope it lacks.
        let reader = key(Role::Viewer, ORG, [Scope::TablesRead].into_iter().collect());
        assert!(authorize(&reader, Action::RowsInsert, &granted).is_err());
        let inserter = key(Role::Viewer, ORG, [Scope::RowsInsert].into_iter().collect());
        assert_eq!(authorize(&inserter, Action::RowsInsert, &granted), Ok(()));
    }

    #[test]
    fn effective_privileges_are_the_roles_and_the_granted() {
        let names = |set: PrivilegeSet| set.iter().map(Privilege::as_str).collect::<Vec<_>>();
        let none = PrivilegeSet::default();
        assert_eq!(names(effective_privileges(&user(Role::Viewer, ORG), none)), ["read", "query"]);
        assert_eq!(
            names(effective_privileges(&user(Role::Editor, ORG), none)),
            ["read", "query", "insert", "update", "delete"]
        );
        assert_eq!(names(effective_privileges(&user(Role::Admin, ORG), none)).len(), Privilege::ALL.len());
        let granted: PrivilegeSet = [Privilege::Delete, Privilege::Manage].into_iter().collect();
        assert_eq!(
            names(effective_privileges(&user(Role::Viewer, ORG), granted)),
            ["read", "query", "delete", "manage"]
        );
        let k = key(Role::Viewer, ORG, [Scope::TablesRead].into_iter().collect());
        assert_eq!(names(effective_privileges(&k, granted)), ["read"]);
        for p in Privilege::ALL {
            assert_eq!(Privilege::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn presets_match_the_reference() {
        let read = preset_scopes("read").unwrap();
        assert_eq!(
            read.names(),
            [
                "tables:query",
                "tables:read",
                "domains:read",
                "connections:read",
                "storage:read",
                "objects:read",
                "objects:download",
                "ai:query",
                "org:read"
            ]
        );
        let write = preset_scopes("write").unwrap();
        assert!(write.contains(Scope::RowsInsert) && write.contains(Scope::TablesCreate));
        assert!(write.contains(Scope::ApikeysCreate) && !write.contains(Scope::OrgUpdate));
        assert_eq!(preset_scopes("admin").unwrap().iter().count(), Scope::ALL.len());
        assert_eq!(preset_scopes("root"), None);
    }

    #[test]
    fn scope_names_round_trip_and_unknown_names_are_reported() {
        for &scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(ScopeSet::parse(["tables:read", "rows:nuke"]), Err("rows:nuke".to_owned()));
        let set = ScopeSet::parse(["read", "rows:insert"]).unwrap();
        assert!(set.contains(Scope::RowsInsert) && set.contains(Scope::TablesQuery));
    }

    #[test]
    fn effective_scopes_are_the_intersection() {
        let k = key(Role::Viewer, ORG, preset_scopes("admin").unwrap());
        assert_eq!(k.effective_scopes(), Role::Viewer.scopes());
        let k = key(Role::Admin, ORG, [Scope::TablesRead].into_iter().collect());
        assert_eq!(k.effective_scopes().names(), ["tables:read"]);
    }
}
