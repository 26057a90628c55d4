//! `logs`: fetch a container's output.

use anyhow::Result;
use hyper::body::Incoming;
use hyper::Response;

use crate::attach;
use crate::client::{copy_body, query};
use crate::flags::{b, v, Args, Matches, Spec};
use crate::util::time_arg;
use crate::Cli;

pub fn spec(canon: &str) -> Option<Spec> {
    (canon == "container.logs").then(|| {
        Spec::new(
            "logs",
            "logs [OPTIONS] CONTAINER",
            "Fetch the logs of a container",
            vec![
                b("details", None, "Show extra details provided to logs"),
                b("follow", Some('f'), "Follow log output"),
                v("since", None, "string", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"),
                v("tail", Some('n'), "string", "Number of lines to show from the end of the logs").def("\"all\""),
                b("timestamps", Some('t'), "Show timestamps"),
                v("until", None, "string", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"),
            ],
        )
        .args(Args::Exact(1))
    })
}

/// Streams a response body that is either raw (tty) or multiplexed to stdout/stderr.
pub async fn stream_output(resp: Response<Incoming>, tty: bool) -> Result<()> {
    let (mut w, r) = tokio::io::duplex(64 * 1024);
    let pump = tokio::spawn(async move { copy_body(resp, &mut w).await });
    if tty {
        attach::raw_copy(r).await?;
    } else {
        attach::demux(r).await?;
    }
    pump.await??;
    Ok(())
}

pub async fn run(cli: &Cli, m: Matches) -> Result<i32> {
    let name = &m.args[0];
    let info = cli
        .client
        .get_json(&format!("/containers/{name}/json"))
        .await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let flag = |k: &str| {
        if m.flag(k) {
            "1".to_string()
        } else {
            String::new()
        }
    };
    let path = query(
        &format!("/containers/{name}/logs"),
        &[
            ("stdout", "1".into()),
            ("stderr", "1".into()),
            ("follow", flag("follow")),
            ("tail", m.value("tail").unwrap_or("all").to_string()),
            ("since", time_arg(&m.str("since"))?),
            ("until", time_arg(&m.str("until"))?),
            ("timestamps", flag("timestamps")),
            ("details", flag("details")),
        ],
    );
    let resp = cli.client.get(&path).await?;
    stream_output(resp, tty).await?;
    Ok(0)
}
