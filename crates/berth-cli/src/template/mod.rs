//! A Go text/template engine for `--format`, over JSON values.

mod exec;
mod funcs;
mod parse;
pub mod typed;

use serde_json::Value;

use parse::{Arg, Node, Pipe};

const FUNCS: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate", "println", "print",
    "printf", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
    "urlquery", "html",
];

pub use exec::Missing;

#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    src: String,
}

/// Go reports where an execution error happened as `:line:col:`; find the
/// failing node (`at <.X.Y>`) in the source to say the same.
fn locate(src: &str, err: String) -> String {
    let Some(rest) = err.strip_prefix("template: :1: executing \"\" at <") else {
        return err;
    };
    let Some((node, _)) = rest.split_once(">: ") else {
        return err;
    };
    let Some(mut off) = src.find(node) else {
        return err;
    };
    // A chain (`.A.B`, `$x.A`) is placed at its second element, as Go's parser does.
    if !node.contains(' ') {
        if let Some(i) = node[1..].find('.') {
            off += i + 1;
        }
    }
    let line = 1 + src[..off].matches('\n').count();
    let col = off - src[..off].rfind('\n').map(|i| i + 1).unwrap_or(0);
    format!("template: :{line}:{col}: executing \"\" at <{rest}")
}

fn check_pipe(p: &Pipe) -> Result<(), String> {
    for c in &p.cmds {
        for a in &c.args {
            match a {
                Arg::Ident(n) if !FUNCS.contains(&n.as_str()) => {
                    return Err(format!("template: :1: function {n:?} not defined"));
                }
                Arg::Sub(p, _) => check_pipe(p)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn check(nodes: &[Node]) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Action(p) => check_pipe(p)?,
            Node::If(p, a, b) | Node::Range(p, a, b) | Node::With(p, a, b) => {
                check_pipe(p)?;
                check(a)?;
                check(b)?;
            }
            _ => {}
        }
    }
    Ok(())
}

impl Template {
    /// Parses a template; errors read like Go's (`template: :1: ...`).
    pub fn parse(src: &str) -> Result<Template, String> {
        let nodes = parse::parse(src)?;
        check(&nodes)?;
        Ok(Template {
            nodes,
            src: src.to_string(),
        })
    }

    pub fn render(&self, data: &Value) -> Result<String, String> {
        let mut st = exec::State::new(data, false);
        st.run(&self.nodes, data)
            .map_err(|e| locate(&self.src, e))?;
        Ok(st.out)
    }

    /// Renders with missing fields treated as `mode` (see [`Missing`]).
    pub fn render_missing(&self, data: &Value, mode: Missing) -> Result<String, String> {
        exec::with_missing(mode, || self.render(data))
    }

    /// Renders the header row of a `table` format: fields resolve to column titles
    /// and docker's formatting functions pass them through unchanged.
    pub fn render_header(&self, headers: &Value) -> Result<String, String> {
        let mut st = exec::State::new(headers, true);
        st.run(&self.nodes, headers)?;
        Ok(st.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    fn data() -> Value {
        json!({
            "Id": "abc",
            "State": {"Pid": 1234, "Running": true, "ExitCode": 0},
            "Config": {"Labels": {"a.b": "x", "foo": "bar"}, "Env": ["A=1", "B=2"], "Cmd": null, "Tty": false},
            "Name": "/web",
            "Size": 1.5,
            "Big": 12345678901i64,
        })
    }

    #[test]
    fn fields_and_json() {
        let d = data();
        assert_eq!(r("{{.State.Pid}}", &d), "1234");
        assert_eq!(r("{{.Big}}", &d), "12345678901");
        assert_eq!(r("{{.Size}}", &d), "1.5");
        assert_eq!(r("{{.State.Running}}", &d), "true");
        assert_eq!(r("{{.Config.Labels.foo}}", &d), "bar");
        assert_eq!(r("{{.Missing}}", &d), "<no value>");
        assert_eq!(
            r("{{json .Config.Labels}}", &d),
            r#"{"a.b":"x","foo":"bar"}"#
        );
        assert_eq!(r("{{json .Config.Env}}", &d), r#"["A=1","B=2"]"#);
        assert_eq!(r("{{.Config.Env}}", &d), "[A=1 B=2]");
        assert_eq!(r("{{.Config.Labels}}", &d), "map[a.b:x foo:bar]");
        assert_eq!(r("{{index .Config.Labels \"a.b\"}}", &d), "x");
        assert_eq!(r("{{index .Config.Env 1}}", &d), "B=2");
        assert_eq!(r("x{{.Name}}y", &d), "x/webx".replace("webx", "weby"));
        assert_eq!(r("{{json .Name}}", &d), "\"/web\"");
        assert_eq!(r("{{json .Config.Cmd}}", &d), "null");
        assert_eq!(r("{{$.Name}}", &d), "/web");
    }

    #[test]
    fn pipelines_and_funcs() {
        let d = data();
        assert_eq!(r("{{.Name | upper}}", &d), "/WEB");
        assert_eq!(r("{{.Name | printf \"%s!\"}}", &d), "/web!");
        assert_eq!(
            r("{{printf \"%-6s|%5d|%q\" .Name .State.Pid .Id}}", &d),
            "/web  | 1234|\"abc\""
        );
        assert_eq!(r("{{join .Config.Env \",\"}}", &d), "A=1,B=2");
        assert_eq!(r("{{split \"a:b:c\" \":\"}}", &d), "[a b c]");
        assert_eq!(r("{{len .Config.Env}}", &d), "2");
        assert_eq!(r("{{title \"hello world\"}}", &d), "Hello World");
        assert_eq!(r("{{lower \"ABC\"}}", &d), "abc");
        assert_eq!(r("{{pad \"x\" 1 2}}|", &d), " x  |");
        assert_eq!(r("{{truncate \"abcdef\" 3}}", &d), "abc");
        assert_eq!(r("{{println \"a\" \"b\"}}", &d), "a b\n");
        assert_eq!(r("{{(index .Config.Env 0) | lower}}", &d), "a=1");
        assert_eq!(r("{{(index .Config.Labels \"foo\")}}", &d), "bar");
        assert_eq!(r("{{.Id | len}}", &d), "3");
        assert_eq!(r("{{slice .Id 1 2}}", &d), "b");
    }

    #[test]
    fn control_flow() {
        let d = data();
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}", &d), "up");
        assert_eq!(
            r("{{if not .State.Running}}up{{else}}down{{end}}", &d),
            "down"
        );
        assert_eq!(r("{{if eq .State.ExitCode 0}}ok{{end}}", &d), "ok");
        assert_eq!(r("{{if eq .Name \"/x\" \"/web\"}}ok{{end}}", &d), "ok");
        assert_eq!(r("{{if gt .State.Pid 10}}big{{end}}", &d), "big");
        assert_eq!(
            r("{{if and .State.Running (ne .Name \"\")}}y{{end}}", &d),
            "y"
        );
        assert_eq!(
            r("{{if .Nope}}a{{else if .Name}}b{{else}}c{{end}}", &d),
            "b"
        );
        assert_eq!(r("{{range .Config.Env}}[{{.}}]{{end}}", &d), "[A=1][B=2]");
        assert_eq!(
            r("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", &d),
            "0=A=1;1=B=2;"
        );
        assert_eq!(
            r(
                "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}} {{end}}",
                &d
            ),
            "a.b:x foo:bar "
        );
        assert_eq!(r("{{range .Config.Cmd}}x{{else}}empty{{end}}", &d), "empty");
        assert_eq!(r("{{with .Config}}{{.Tty}}{{end}}", &d), "false");
        assert_eq!(r("{{with .Nope}}x{{else}}none{{end}}", &d), "none");
        assert_eq!(r("{{$x := .Name}}{{$x}}", &d), "/web");
        assert_eq!(r("{{$x := 1}}{{$x = 2}}{{$x}}", &d), "2");
        assert_eq!(r("a  {{- .Name -}}  b", &d), "a/webb");
        assert_eq!(r("{{/* comment */}}z", &d), "z");
        assert_eq!(
            r(
                "{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}}{{end}}",
                &d
            ),
            "A=1"
        );
        assert_eq!(
            r("{{range $e := .Config.Env}}{{$.Name}}{{end}}", &d),
            "/web/web"
        );
    }

    #[test]
    fn label_method_and_header() {
        let row = json!({"Names": "web", "__labels": {"k": "v"}, "Labels": "k=v"});
        assert_eq!(r("{{.Label \"k\"}}|{{.Label \"z\"}}", &row), "v|");
        assert_eq!(r("{{json .}}", &row), r#"{"Labels":"k=v","Names":"web"}"#);
        let h = json!({"Names": "NAMES"});
        let t = Template::parse("{{.Names | lower}}\t{{json .Names}}").unwrap();
        assert_eq!(t.render_header(&h).unwrap(), "NAMES\tNAMES");
    }

    #[test]
    fn errors() {
        assert_eq!(
            Template::parse("{{.State.Pid}").unwrap_err(),
            "template: :1: unexpected \"}\" in operand"
        );
        assert!(Template::parse("{{if .X}}")
            .unwrap_err()
            .contains("unexpected EOF"));
        assert!(Template::parse("{{end}}")
            .unwrap_err()
            .contains("unexpected {{end}}"));
        assert!(Template::parse("{{nope .X}}")
            .unwrap_err()
            .contains("function \"nope\" not defined"));
        assert!(Template::parse("{{\"abc}}").is_err());
        let t = Template::parse("{{.Name.X}}").unwrap();
        assert!(t
            .render(&data())
            .unwrap_err()
            .contains("can't evaluate field X"));
    }
}
