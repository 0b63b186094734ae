//! `security.has_privileges` (`GET|POST /_security/user/_has_privileges` and
//! `/_security/user/{user}/_has_privileges`): which of the requested privileges the caller holds.

use http::StatusCode;
use keyward_core::json_token;
use keyward_service::{
    ApplicationPrivilegesCheck, HasPrivileges, HasPrivilegesResult, IndexPrivilegesCheck,
};
use serde_json::{Map, Value};

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{ObjectReader, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let request = request(&require_body(&ctx.body)?)?;
    let username = Some(ctx.param("user")).filter(|user| !user.is_empty());
    let result = ctx
        .state
        .service
        .has_privileges(&ctx.subject, username, request)
        .await?;
    Ok((StatusCode::OK, response(result)))
}

pub(crate) fn request(body: &Value) -> Result<HasPrivileges, EsError> {
    let mut reader = ObjectReader::new(body, "has_privileges")?;
    let cluster = reader.strings("cluster")?.unwrap_or_default();
    let index = objects(reader.value("index"), "index")?
        .iter()
        .map(|entry| {
            let mut reader = ObjectReader::new(entry, "index_privileges")?;
            let names = reader.strings("names")?.unwrap_or_default();
            let privileges = reader.strings("privileges")?.unwrap_or_default();
            let allow_restricted_indices =
                reader.boolean("allow_restricted_indices")?.unwrap_or(false);
            reader.finish()?;
            Ok(IndexPrivilegesCheck {
                names,
                privileges,
                allow_restricted_indices,
            })
        })
        .collect::<Result<Vec<_>, EsError>>()?;
    let application = objects(reader.value("application"), "application")?
        .iter()
        .map(|entry| {
            let mut reader = ObjectReader::new(entry, "application_privileges")?;
            let application = reader.string("application")?.unwrap_or_default();
            let privileges = reader.strings("privileges")?.unwrap_or_default();
            let resources = reader.strings("resources")?.unwrap_or_default();
            reader.finish()?;
            Ok(ApplicationPrivilegesCheck {
                application,
                privileges,
                resources,
            })
        })
        .collect::<Result<Vec<_>, EsError>>()?;
    reader.finish()?;
    Ok(HasPrivileges {
        cluster,
        index,
        application,
    })
}

/// An optional array of objects (a single object counts as one).
fn objects<'a>(value: Option<&'a Value>, field: &str) -> Result<Vec<&'a Value>, EsError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(object @ Value::Object(_)) => Ok(vec![object]),
        Some(other) => Err(EsError::x_content(format!(
            "[has_privileges] {field} doesn't support values of type: {}",
            json_token(other)
        ))),
    }
}

fn response(result: HasPrivilegesResult) -> Value {
    let flags = |entries: Vec<(String, bool)>| -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(name, held)| (name, Value::Bool(held)))
                .collect(),
        )
    };
    let mut body = Map::new();
    body.insert("username".to_owned(), Value::String(result.username));
    body.insert(
        "has_all_requested".to_owned(),
        Value::Bool(result.has_all_requested),
    );
    body.insert("cluster".to_owned(), flags(result.cluster));
    body.insert(
        "index".to_owned(),
        Value::Object(
            result
                .index
                .into_iter()
                .map(|(index, privileges)| (index, flags(privileges)))
                .collect(),
        ),
    );
    body.insert(
        "application".to_owned(),
        Value::Object(
            result
                .application
                .into_iter()
                .map(|(application, resources)| {
                    let resources = resources
                        .into_iter()
                        .map(|(resource, privileges)| (resource, flags(privileges)))
                        .collect();
                    (application, Value::Object(resources))
                })
                .collect(),
        ),
    );
    Value::Object(body)
}
