//! `GET /v2/_catalog` and `GET /v2/<name>/tags/list`, paginated with `n` and `last`: a
//! page with more after it carries `Link: <...?last=X&n=N>; rel="next"`.

use std::collections::HashMap;

use http::{header, Response, StatusCode};

use crate::server::error::{ApiError, Code};
use crate::server::response::{self, Body};
use crate::server::{Registry, Rejection};

type Answer = Result<Response<Body>, Rejection>;

/// One page of a sorted list, and the `Link` to the next page if there is one.
fn page(
    all: Vec<String>,
    q: &HashMap<String, String>,
    path: &str,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let n = match q.get("n") {
        None => None,
        Some(s) => Some(s.parse::<usize>().map_err(|_| {
            ApiError::new(
                Code::PaginationNumberInvalid,
                format!("invalid number of results requested: {s:?}"),
            )
        })?),
    };
    let after: Vec<String> = match q.get("last") {
        Some(last) => all
            .into_iter()
            .filter(|x| x.as_str() > last.as_str())
            .collect(),
        None => all,
    };
    let Some(n) = n else {
        return Ok((after, None));
    };
    let more = after.len() > n;
    let items: Vec<String> = after.into_iter().take(n).collect();
    let link = match items.last() {
        Some(last) if more => {
            let qs = form_urlencoded::Serializer::new(String::new())
                .append_pair("last", last)
                .append_pair("n", &n.to_string())
                .finish();
            Some(format!("<{path}?{qs}>; rel=\"next\""))
        }
        _ => None,
    };
    Ok((items, link))
}

fn answer(value: serde_json::Value, link: Option<String>) -> Response<Body> {
    let mut r = response::json(StatusCode::OK, &value);
    if let Some(l) = link {
        response::set(&mut r, header::LINK, &l);
    }
    r
}

pub fn repositories(reg: &Registry, q: &HashMap<String, String>) -> Answer {
    let (repos, link) = page(reg.storage.repositories()?, q, "/v2/_catalog")?;
    Ok(answer(serde_json::json!({ "repositories": repos }), link))
}

pub fn tags(reg: &Registry, name: &str, q: &HashMap<String, String>) -> Answer {
    if !reg.storage.repo_exists(name) {
        return Err(ApiError::new(
            Code::NameUnknown,
            format!("repository name not known to registry: {name}"),
        )
        .with_detail(serde_json::json!({ "name": name }))
        .into());
    }
    let all = reg
        .storage
        .tags(name)?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let (tags, link) = page(all, q, &format!("/v2/{name}/tags/list"))?;
    Ok(answer(
        serde_json::json!({ "name": name, "tags": tags }),
        link,
    ))
}
