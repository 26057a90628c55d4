//! berth's builder: the Dockerfile parser with docker's rules and messages,
//! the model of build stages and build args, `.dockerignore` handling with a
//! build-context walker, content checksums for the layer cache, and the
//! builder that runs the steps (`builder`) through the `builder::Engine`
//! trait the daemon implements.

pub mod build_args;
pub mod builder;
pub mod cache;
pub mod context;
pub mod dockerfile;
pub mod ignore;
pub mod pattern;
pub mod stages;

/// The pieces used together the way the builder will: parse, pick stages,
/// walk the context, follow one stage's variables, key its COPY.
#[cfg(test)]
mod walkthrough {
    use std::collections::BTreeMap;
    use std::fs;

    use crate::build_args::{GlobalArgs, StageScope};
    use crate::cache::{context_sources, instruction_cache_text, ContextIndex};
    use crate::context::walk_context;
    use crate::dockerfile::{parse, InstructionKind, Source};
    use crate::ignore::DockerIgnore;
    use crate::stages::{base_of, required_stages, Base};

    const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG GO=1.22
FROM golang:${GO} AS build
ARG APP=server
ENV SRC=/src/$APP
WORKDIR $SRC
COPY src/ ./
RUN go build -o /out/$APP .

FROM busybox AS debug
RUN echo debug

FROM scratch
ARG APP=server
COPY --from=build /out/${APP} /${APP}
ENTRYPOINT ["/server"]
"#;

    #[test]
    fn from_dockerfile_to_cache_inputs() {
        let ctx = tempfile::tempdir().unwrap();
        fs::create_dir_all(ctx.path().join("src")).unwrap();
        fs::write(ctx.path().join("src/main.go"), "package main").unwrap();
        fs::write(ctx.path().join("src/main_test.go"), "package main").unwrap();
        fs::write(ctx.path().join("Dockerfile"), DOCKERFILE).unwrap();
        fs::write(
            ctx.path().join(".dockerignore"),
            "**/*_test.go\nDockerfile\n",
        )
        .unwrap();

        let df = parse(DOCKERFILE).unwrap();
        assert_eq!(df.notes.len(), 1);
        let build_args = BTreeMap::from([("APP".to_string(), "api".to_string())]);
        let globals = GlobalArgs::resolve(&df, &build_args).unwrap();
        assert_eq!(required_stages(&df, None, &globals).unwrap(), vec![0, 2]);

        let build = &df.stages[0];
        assert_eq!(
            base_of(&df, build, &globals).unwrap(),
            Base::Image("golang:1.22".into())
        );

        let ignore = DockerIgnore::for_context(ctx.path(), Some("Dockerfile")).unwrap();
        let entries = walk_context(ctx.path(), &ignore).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![".dockerignore", "Dockerfile", "src", "src/main.go"]
        );
        let index = ContextIndex::new(ctx.path(), entries);

        let mut scope = StageScope::new(
            vec!["PATH=/usr/local/go/bin:/usr/bin".into()],
            &globals,
            &build_args,
        );
        let mut workdir = String::new();
        let mut copy_key = None;
        for instruction in &build.instructions {
            let step = instruction.expand(&scope, df.escape).unwrap();
            match &step.kind {
                InstructionKind::Arg(decls) => decls.iter().for_each(|d| scope.declare(d)),
                InstructionKind::Env(kvs) => {
                    kvs.iter().for_each(|kv| scope.set_env(&kv.key, &kv.value))
                }
                InstructionKind::Workdir(w) => workdir = w.clone(),
                InstructionKind::Copy(c) => {
                    assert_eq!(c.sources, vec![Source::Path("src/".into())]);
                    copy_key = Some((
                        instruction_cache_text(&step),
                        index.checksum(&context_sources(&step)).unwrap(),
                    ));
                }
                InstructionKind::Run(_) => {
                    assert!(scope.run_env().contains(&"APP=api".to_string()));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(workdir, "/src/api");
        let (text, sum) = copy_key.unwrap();
        assert_eq!(text, "COPY src/ ./");
        fs::write(ctx.path().join("src/main_test.go"), "changed, but ignored").unwrap();
        let again = ContextIndex::new(ctx.path(), walk_context(ctx.path(), &ignore).unwrap());
        assert_eq!(again.checksum(&["src/"]).unwrap(), sum);
        fs::write(ctx.path().join("src/main.go"), "package main // changed").unwrap();
        let changed = ContextIndex::new(ctx.path(), walk_context(ctx.path(), &ignore).unwrap());
        assert_ne!(changed.checksum(&["src/"]).unwrap(), sum);
    }
}
