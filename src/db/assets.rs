//! An environment's assets: configuration values and environment API keys. They belong to the
//! organization; the member who created one may leave, and it stays ("former member").

use crate::audit::Action;
use crate::domain::ids::{EnvId, OrgId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{config_values, environment_api_keys, memberships, users};
use super::tokens;
use crate::audit::{self, Actor, RequestMeta};
use crate::authz::EnvKind;
use crate::db::orgs::Organization;

/// The name of the asset's creator (the column `$created_by` of the asset's row), while they are
/// a member of organization `$org`; null otherwise. A correlated subquery on the users' and the
/// memberships' keys, not a join: an environment's assets are few and rarely change, so their
/// statistics may date from when only the first accounts had made any, and on such statistics
/// PostgreSQL merges the whole users index from its start up to a later creator's id, on every
/// page (O(users) instead of O(assets)).
macro_rules! creator_name {
    ($created_by:expr, $org:expr) => {
        users::table
            .filter(users::id.nullable().eq($created_by))
            .filter(diesel::dsl::exists(
                memberships::table
                    .filter(memberships::user_id.eq(users::id))
                    .filter(memberships::organization_id.eq($org)),
            ))
            .select(users::name)
            .single_value()
    };
}

/// Who an asset shows as its creator.
fn creator_label(name: Option<String>) -> String {
    name.unwrap_or_else(|| "former member".to_string())
}

#[derive(Debug, Clone)]
pub struct ConfigValue {
    pub id: i64,
    pub key: String,
    pub value: String,
    pub secret: bool,
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An environment's configuration values and API keys (two statements).
pub fn list(
    conn: &mut PgConnection,
    org_id: OrgId,
    env_id: EnvId,
) -> QueryResult<(Vec<ConfigValue>, Vec<ApiKey>)> {
    Ok((
        config_values_of(conn, org_id, env_id)?,
        api_keys_of(conn, org_id, env_id)?,
    ))
}

fn config_values_of(
    conn: &mut PgConnection,
    org_id: OrgId,
    env_id: EnvId,
) -> QueryResult<Vec<ConfigValue>> {
    type ConfigRow = (i64, String, String, bool, DateTime<Utc>, Option<String>);
    let configs: Vec<ConfigRow> = config_values::table
        .filter(config_values::environment_id.eq(env_id))
        .order(config_values::key)
        .select((
            config_values::id,
            config_values::key,
            config_values::value,
            config_values::secret,
            config_values::updated_at,
            creator_name!(config_values::created_by, org_id),
        ))
        .load(conn)?;
    Ok(configs
        .into_iter()
        .map(|(id, key, value, secret, updated_at, name)| ConfigValue {
            id,
            key,
            value,
            secret,
            updated_at,
            created_by: creator_label(name),
        })
        .collect())
}

fn api_keys_of(conn: &mut PgConnection, org_id: OrgId, env_id: EnvId) -> QueryResult<Vec<ApiKey>> {
    type KeyRow = (
        i64,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let keys: Vec<KeyRow> = environment_api_keys::table
        .filter(environment_api_keys::environment_id.eq(env_id))
        .order(environment_api_keys::created_at.desc())
        .select((
            environment_api_keys::id,
            environment_api_keys::name,
            environment_api_keys::prefix,
            environment_api_keys::created_at,
            environment_api_keys::last_used_at,
            environment_api_keys::revoked_at,
            creator_name!(environment_api_keys::created_by, org_id),
        ))
        .load(conn)?;
    Ok(keys
        .into_iter()
        .map(
            |(id, name, prefix, created_at, last_used_at, revoked_at, creator)| ApiKey {
                id,
                name,
                prefix,
                created_by: creator_label(creator),
                created_at,
                last_used_at,
                revoked_at,
            },
        )
        .collect())
}

/// Where an asset change happens, for its audit event.
pub struct Scope<'a> {
    pub org: &'a Organization,
    pub env_id: EnvId,
    pub kind: EnvKind,
    pub actor: &'a Actor,
    pub actor_id: UserId,
    pub meta: &'a RequestMeta,
}

impl Scope<'_> {
    fn record(
        &self,
        conn: &mut PgConnection,
        action: Action,
        target: String,
        details: serde_json::Value,
    ) -> QueryResult<()> {
        let target = format!("{target} in {}", self.kind);
        let event = audit::Event::successful(self.actor, self.meta, action, target, details);
        audit::record(conn, event.in_org(self.org.id, &self.org.name))
    }
}

/// A secret's value never goes into the audit log.
fn shown(value: &str, secret: bool) -> serde_json::Value {
    if secret {
        serde_json::json!("(secret)")
    } else {
        serde_json::json!(value)
    }
}

/// Creates a value; false when the key exists already in this environment.
pub fn create_config(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    key: &str,
    value: &str,
    secret: bool,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let inserted = diesel::insert_into(config_values::table)
            .values((
                config_values::environment_id.eq(scope.env_id),
                config_values::organization_id.eq(scope.org.id),
                config_values::key.eq(key),
                config_values::value.eq(value),
                config_values::secret.eq(secret),
                config_values::created_by.eq(scope.actor_id),
                config_values::updated_by.eq(scope.actor_id),
            ))
            .on_conflict((config_values::environment_id, config_values::key))
            .do_nothing()
            .execute(conn)?;
        if inserted == 0 {
            return Ok(false);
        }
        scope.record(conn, Action::ConfigChanged, key.to_string(), serde_json::json!({ "before": null, "after": { "value": shown(value, secret), "secret": secret } }))?;
        Ok(true)
    })
}

/// Changes a value; false when it is not in this environment.
pub fn update_config(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    id: i64,
    value: &str,
    secret: bool,
) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        let before: Option<(String, String, bool)> = config_values::table
            .filter(config_values::id.eq(id))
            .filter(config_values::environment_id.eq(scope.env_id))
            .select((config_values::key, config_values::value, config_values::secret))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((key, old, was_secret)) = before else { return Ok(None) };
        // A secret's edit form starts empty (its value is never shown): left empty, the value
        // stays, and stays secret. Unticking "secret" must neither erase it nor make it readable
        // (and written in clear into the audit log) without anyone typing it.
        let (value, secret) = if was_secret && value.is_empty() { (old.as_str(), true) } else { (value, secret) };
        diesel::update(config_values::table.find(id))
            .set((
                config_values::value.eq(value),
                config_values::secret.eq(secret),
                config_values::updated_by.eq(scope.actor_id),
                config_values::updated_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        scope.record(
            conn,
            Action::ConfigChanged,
            key.clone(),
            serde_json::json!({ "before": { "value": shown(&old, was_secret), "secret": was_secret }, "after": { "value": shown(value, secret), "secret": secret } }),
        )?;
        Ok(Some(key))
    })
}

pub fn delete_config(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    id: i64,
) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        let deleted: Option<(String, String, bool)> = diesel::delete(
            config_values::table.filter(config_values::id.eq(id)).filter(config_values::environment_id.eq(scope.env_id)),
        )
        .returning((config_values::key, config_values::value, config_values::secret))
        .get_result(conn)
        .optional()?;
        let Some((key, old, was_secret)) = deleted else { return Ok(None) };
        scope.record(conn, Action::ConfigChanged, key.clone(), serde_json::json!({ "before": { "value": shown(&old, was_secret), "secret": was_secret }, "after": null }))?;
        Ok(Some(key))
    })
}

/// A secret value, revealed on request (the reveal is audited).
pub fn reveal_config(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    id: i64,
) -> QueryResult<Option<(i64, String)>> {
    let found: Option<(String, String)> = config_values::table
        .filter(config_values::id.eq(id))
        .filter(config_values::environment_id.eq(scope.env_id))
        .select((config_values::key, config_values::value))
        .first(conn)
        .optional()?;
    let Some((key, value)) = found else {
        return Ok(None);
    };
    scope.record(conn, Action::ConfigRevealed, key, serde_json::json!({}))?;
    Ok(Some((id, value)))
}

/// Creates an API key and returns it in clear, the only time it is shown.
pub fn create_key(conn: &mut PgConnection, scope: &Scope<'_>, name: &str) -> QueryResult<String> {
    conn.transaction(|conn| {
        let (key, prefix) = super::tokens::new_key("gatehouse_ek_");
        diesel::insert_into(environment_api_keys::table)
            .values((
                environment_api_keys::environment_id.eq(scope.env_id),
                environment_api_keys::organization_id.eq(scope.org.id),
                environment_api_keys::name.eq(name),
                environment_api_keys::prefix.eq(&prefix),
                environment_api_keys::key_hash.eq(tokens::hash(&key)),
                environment_api_keys::created_by.eq(scope.actor_id),
            ))
            .execute(conn)?;
        scope.record(
            conn,
            Action::ApiKeyCreated,
            name.to_string(),
            serde_json::json!({ "after": { "name": name, "prefix": prefix } }),
        )?;
        Ok(key)
    })
}

pub fn revoke_key(
    conn: &mut PgConnection,
    scope: &Scope<'_>,
    id: i64,
) -> QueryResult<Option<String>> {
    conn.transaction(|conn| {
        let revoked: Option<(String, String)> = diesel::update(
            environment_api_keys::table
                .filter(environment_api_keys::id.eq(id))
                .filter(environment_api_keys::environment_id.eq(scope.env_id))
                .filter(environment_api_keys::revoked_at.is_null()),
        )
        .set(environment_api_keys::revoked_at.eq(Utc::now()))
        .returning((environment_api_keys::name, environment_api_keys::prefix))
        .get_result(conn)
        .optional()?;
        let Some((name, prefix)) = revoked else { return Ok(None) };
        scope.record(conn, Action::ApiKeyRevoked, name.clone(), serde_json::json!({ "before": { "prefix": prefix, "revoked": false }, "after": { "revoked": true } }))?;
        Ok(Some(name))
    })
}
