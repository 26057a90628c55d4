//! Build arguments with docker's scope rules: ARGs before the first FROM are
//! global and only usable in FROM lines; a stage sees a global only after
//! declaring it again (`ARG NAME`); `--build-arg` values override defaults;
//! ENV overrides ARG of the same name; the proxy ARGs are predefined (they
//! reach RUN without being declared, and stay out of the image history).

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::dockerfile::{ArgDecl, Dockerfile, InstructionKind, SubstError, Vars};

/// ARGs every build has without declaring them.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.contains(&name)
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("dockerfile error on line {line}: {source}")]
pub struct ArgError {
    pub line: usize,
    pub source: SubstError,
}

/// The global scope: values of the ARGs declared before the first FROM.
/// Declared ARGs without a value are absent (unset, not empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalArgs {
    pub values: BTreeMap<String, String>,
}

impl Vars for GlobalArgs {
    fn var(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }
}

/// BuildKit's automatic platform ARGs (`TARGETPLATFORM`, `TARGETOS`,
/// `TARGETARCH`, `TARGETVARIANT` and the `BUILD*` ones) for a build on and for
/// `os`/`arch`/`variant` (berth builds for the machine it runs on). They are
/// in the global scope, so usable in FROM, and a stage gets them with
/// `ARG TARGETARCH`.
pub fn platform_args(os: &str, arch: &str, variant: &str) -> BTreeMap<String, String> {
    let platform = if variant.is_empty() {
        format!("{os}/{arch}")
    } else {
        format!("{os}/{arch}/{variant}")
    };
    let mut out = BTreeMap::new();
    for prefix in ["TARGET", "BUILD"] {
        out.insert(format!("{prefix}PLATFORM"), platform.clone());
        out.insert(format!("{prefix}OS"), os.to_string());
        out.insert(format!("{prefix}ARCH"), arch.to_string());
        out.insert(format!("{prefix}VARIANT"), variant.to_string());
    }
    out
}

impl GlobalArgs {
    /// Evaluates the meta ARGs in order; a default may use earlier ones.
    pub fn resolve(
        df: &Dockerfile,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Self, ArgError> {
        Self::resolve_with(df, build_args, BTreeMap::new())
    }

    /// Like [`GlobalArgs::resolve`], starting from predefined values (see
    /// [`platform_args`]); an ARG without default keeps a predefined value.
    pub fn resolve_with(
        df: &Dockerfile,
        build_args: &BTreeMap<String, String>,
        predefined: BTreeMap<String, String>,
    ) -> Result<Self, ArgError> {
        let mut globals = GlobalArgs { values: predefined };
        for instruction in &df.meta_args {
            let InstructionKind::Arg(decls) = &instruction.kind else {
                continue;
            };
            for decl in decls {
                let default = match &decl.default {
                    Some(d) => Some(
                        crate::dockerfile::process_word(d, &globals, df.escape).map_err(
                            |source| ArgError {
                                line: instruction.line,
                                source,
                            },
                        )?,
                    ),
                    None => None,
                };
                if let Some(v) = build_args.get(&decl.name).cloned().or(default) {
                    globals.values.insert(decl.name.clone(), v);
                }
            }
        }
        Ok(globals)
    }
}

/// The variables of one stage while its instructions are dispatched.
#[derive(Debug, Clone)]
pub struct StageScope<'a> {
    globals: &'a GlobalArgs,
    build_args: &'a BTreeMap<String, String>,
    /// Declared ARGs in order with their values (None: declared, unset).
    args: Vec<(String, Option<String>)>,
    /// The image environment (`KEY=value`), base image first, then ENV.
    env: Vec<String>,
}

impl<'a> StageScope<'a> {
    pub fn new(
        base_env: Vec<String>,
        globals: &'a GlobalArgs,
        build_args: &'a BTreeMap<String, String>,
    ) -> Self {
        StageScope {
            globals,
            build_args,
            args: Vec::new(),
            env: base_env,
        }
    }

    /// Declares an ARG whose default has already been substituted (see
    /// `Instruction::expand`). Its value: the `--build-arg`, else the default,
    /// else the global value of the same name.
    pub fn declare(&mut self, decl: &ArgDecl) {
        let value = self
            .build_args
            .get(&decl.name)
            .cloned()
            .or_else(|| decl.default.clone())
            .or_else(|| self.globals.values.get(&decl.name).cloned());
        self.args.retain(|(n, _)| n != &decl.name);
        self.args.push((decl.name.clone(), value));
    }

    /// Sets an ENV variable (replacing an earlier one of the same name).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env
            .retain(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) != key);
        self.env.push(format!("{key}={value}"));
    }

    /// The image environment as it would be committed.
    pub fn env(&self) -> &[String] {
        &self.env
    }

    /// The declared ARGs that have a value, in declaration order.
    pub fn args(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter_map(|(n, v)| v.clone().map(|v| (n.clone(), v)))
            .collect()
    }

    /// The environment of a RUN: the image environment, plus declared ARGs
    /// that ENV does not override, plus proxy ARGs given as build args.
    pub fn run_env(&self) -> Vec<String> {
        let mut out = self.env.clone();
        let in_env = |name: &str| {
            self.env
                .iter()
                .any(|kv| kv.split_once('=').is_some_and(|(k, _)| k == name))
        };
        for (name, value) in self.args() {
            if !in_env(&name) {
                out.push(format!("{name}={value}"));
            }
        }
        for (name, value) in self.build_args {
            if is_proxy_arg(name) && !in_env(name) && !self.args.iter().any(|(n, _)| n == name) {
                out.push(format!("{name}={value}"));
            }
        }
        out
    }
}

impl Vars for StageScope<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).or_else(|| {
            self.args
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone())
        })
    }
}

/// `--build-arg` names that no ARG of the Dockerfile declares (docker warns:
/// "One or more build-args [...] were not consumed"). Proxy args count as
/// consumed.
pub fn unconsumed_build_args(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> Vec<String> {
    let declared: BTreeSet<&str> = df
        .meta_args
        .iter()
        .chain(df.stages.iter().flat_map(|s| s.instructions.iter()))
        .filter_map(|i| match &i.kind {
            InstructionKind::Arg(decls) => Some(decls.iter().map(|d| d.name.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    build_args
        .keys()
        .filter(|k| !declared.contains(k.as_str()) && !is_proxy_arg(k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::{parse, process_word};

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn decl(name: &str, default: Option<&str>) -> ArgDecl {
        ArgDecl {
            name: name.into(),
            default: default.map(str::to_string),
        }
    }

    #[test]
    fn globals_resolve_in_order_with_build_args_winning() {
        let df = parse("ARG REG=docker.io\nARG IMG=${REG}/library/alpine\nARG UNSET\nARG TAG=3\nFROM $IMG:$TAG\n").unwrap();
        let g = GlobalArgs::resolve(&df, &args(&[("TAG", "edge")])).unwrap();
        assert_eq!(
            g.values.get("IMG").map(String::as_str),
            Some("docker.io/library/alpine")
        );
        assert_eq!(g.values.get("TAG").map(String::as_str), Some("edge"));
        assert!(!g.values.contains_key("UNSET"));
        assert_eq!(process_word("${UNSET-none}", &g, '\\').unwrap(), "none");
        let g = GlobalArgs::resolve(&df, &args(&[("REG", "127.0.0.1:5000")])).unwrap();
        assert_eq!(g.values["IMG"], "127.0.0.1:5000/library/alpine");
    }

    #[test]
    fn platform_args_are_global_and_importable() {
        let df =
            parse("ARG TARGETARCH\nFROM --platform=$BUILDPLATFORM busybox:$TARGETARCH\n").unwrap();
        let build = BTreeMap::new();
        let g =
            GlobalArgs::resolve_with(&df, &build, platform_args("linux", "arm64", "v8")).unwrap();
        assert_eq!(g.values["TARGETARCH"], "arm64");
        assert_eq!(g.values["BUILDPLATFORM"], "linux/arm64/v8");
        assert_eq!(
            platform_args("linux", "amd64", "")["TARGETPLATFORM"],
            "linux/amd64"
        );
        let mut scope = StageScope::new(vec![], &g, &build);
        assert_eq!(scope.var("TARGETOS"), None);
        scope.declare(&decl("TARGETOS", None));
        assert_eq!(scope.var("TARGETOS").as_deref(), Some("linux"));
    }

    #[test]
    fn global_bad_default_names_the_line() {
        let df = parse("ARG A=ok\nARG B=${A\nFROM x\n").unwrap();
        let err = GlobalArgs::resolve(&df, &BTreeMap::new()).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.to_string()
                .starts_with("dockerfile error on line 2: failed to process"),
            "{err}"
        );
    }

    #[test]
    fn globals_are_invisible_in_a_stage_until_redeclared() {
        let df = parse("ARG V=1\nFROM x\n").unwrap();
        let build = BTreeMap::new();
        let g = GlobalArgs::resolve(&df, &build).unwrap();
        let mut scope = StageScope::new(vec![], &g, &build);
        assert_eq!(scope.var("V"), None);
        scope.declare(&decl("V", None));
        assert_eq!(scope.var("V").as_deref(), Some("1"));
        scope.declare(&decl("V", Some("2")));
        assert_eq!(scope.var("V").as_deref(), Some("2"));
    }

    #[test]
    fn build_arg_beats_default_and_env_beats_arg() {
        let g = GlobalArgs::default();
        let build = args(&[("A", "from-cli")]);
        let mut scope = StageScope::new(vec!["PATH=/bin".into()], &g, &build);
        scope.declare(&decl("A", Some("default")));
        assert_eq!(scope.var("A").as_deref(), Some("from-cli"));
        scope.declare(&decl("B", None));
        assert_eq!(scope.var("B"), None);
        scope.set_env("A", "from-env");
        assert_eq!(scope.var("A").as_deref(), Some("from-env"));
        assert_eq!(
            scope.env(),
            &["PATH=/bin".to_string(), "A=from-env".to_string()]
        );
        scope.set_env("PATH", "/usr/bin");
        assert_eq!(
            scope.env(),
            &["A=from-env".to_string(), "PATH=/usr/bin".to_string()]
        );
    }

    #[test]
    fn undeclared_build_arg_is_not_visible() {
        let g = GlobalArgs::default();
        let build = args(&[("SECRET", "x")]);
        let scope = StageScope::new(vec![], &g, &build);
        assert_eq!(scope.var("SECRET"), None);
        assert!(scope.run_env().is_empty());
    }

    #[test]
    fn run_env_has_args_and_proxies() {
        let g = GlobalArgs::default();
        let build = args(&[
            ("http_proxy", "http://127.0.0.1:3128"),
            ("NO_PROXY", "localhost"),
            ("OTHER", "x"),
        ]);
        let mut scope = StageScope::new(vec!["HOME=/root".into()], &g, &build);
        scope.declare(&decl("V", Some("1")));
        scope.declare(&decl("HOME", Some("/ignored")));
        let env = scope.run_env();
        assert_eq!(
            env,
            vec![
                "HOME=/root",
                "V=1",
                "NO_PROXY=localhost",
                "http_proxy=http://127.0.0.1:3128"
            ]
        );
        // proxies are not substitution variables unless declared
        assert_eq!(scope.var("http_proxy"), None);
        assert_eq!(
            scope.args(),
            vec![
                ("V".to_string(), "1".to_string()),
                ("HOME".to_string(), "/ignored".to_string())
            ]
        );
    }

    #[test]
    fn unconsumed_build_args_are_reported() {
        let df = parse("ARG A\nFROM x\nARG B=1\n").unwrap();
        let build = args(&[("A", "1"), ("B", "2"), ("C", "3"), ("HTTPS_PROXY", "p")]);
        assert_eq!(unconsumed_build_args(&df, &build), vec!["C"]);
    }
}
