//! Seccomp: docker's profile format (arch map, rules conditional on capabilities, arches
//! and kernel version), berth's built-in default profile in that format, and the
//! translation of a profile into the OCI `linux.seccomp` object for one container.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("decoding seccomp profile failed: {0}")]
    Decode(String),
    #[error("opening seccomp profile ({path}) failed: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

/// Which seccomp filter a container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompMode {
    /// berth's built-in profile (docker's default rules).
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`).
    Unconfined,
    /// A profile in docker's JSON format (the docker CLI sends a file's contents).
    Profile(String),
}

/// A profile in docker's format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_metadata: String,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The pre-1.13 single-name form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// When a rule applies: every listed capability held, the native arch listed, the
/// kernel at least `min_kernel` (for `includes`); any of them (for `excludes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min_kernel: String,
}

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// The machine as docker names arches in `includes.arches` (Go's GOARCH names).
fn native_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
        "x86" => ("386", "SCMP_ARCH_X86"),
        "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
        "arm" => ("arm", "SCMP_ARCH_ARM"),
        "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
        "s390x" => ("s390x", "SCMP_ARCH_S390X"),
        "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
        _ => ("", "SCMP_ARCH_NATIVE"),
    }
}

/// `major.minor` of the running kernel.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    parse_version(&release)
}

fn parse_version(v: &str) -> (u32, u32) {
    let mut parts = v
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Parses and checks a profile in docker's JSON format.
pub fn parse_profile(text: &str) -> Result<Profile, SeccompError> {
    let profile: Profile =
        serde_json::from_str(text).map_err(|e| SeccompError::Decode(e.to_string()))?;
    let bad = |m: String| Err(SeccompError::Decode(m));
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return bad("use either 'architectures' or 'archMap'".into());
    }
    if !ACTIONS.contains(&profile.default_action.as_str()) {
        return bad(format!(
            "invalid default action {:?}",
            profile.default_action
        ));
    }
    for rule in &profile.syscalls {
        if !rule.name.is_empty() && !rule.names.is_empty() {
            return bad("use either 'name' or 'names'".into());
        }
        if !ACTIONS.contains(&rule.action.as_str()) {
            return bad(format!("invalid action {:?}", rule.action));
        }
        if let Some(arg) = rule.args.iter().find(|a| !OPS.contains(&a.op.as_str())) {
            return bad(format!("invalid operator {:?}", arg.op));
        }
        if let Some(arg) = rule.args.iter().find(|a| a.index > 5) {
            return bad(format!("invalid argument index {}", arg.index));
        }
    }
    Ok(profile)
}

/// Reads the profile a `seccomp=` security option names: its JSON text (what the docker
/// CLI sends), or, from other API clients, a path on the daemon's host.
pub fn load_option(value: &str) -> Result<Profile, SeccompError> {
    if value.trim_start().starts_with('{') {
        return parse_profile(value);
    }
    let text = std::fs::read_to_string(value).map_err(|source| SeccompError::Open {
        path: value.to_string(),
        source,
    })?;
    parse_profile(&text)
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_empty()
    }
}

impl Profile {
    /// The OCI `linux.seccomp` object for a process holding `caps` on this machine.
    pub fn to_oci(&self, caps: &[String]) -> Value {
        let (arch, scmp_arch) = native_arch();
        let kernel = kernel_version();
        let mut architectures: Vec<String> = self.architectures.clone();
        for m in &self.arch_map {
            if m.architecture == scmp_arch {
                architectures.push(m.architecture.clone());
                architectures.extend(m.sub_architectures.iter().cloned());
            }
        }
        let has_cap = |c: &String| caps.iter().any(|h| h == c);
        let kernel_ok = |v: &str| v.is_empty() || kernel >= parse_version(v);
        let mut syscalls = Vec::new();
        for rule in &self.syscalls {
            let inc = &rule.includes;
            if !inc.is_empty()
                && (!inc.caps.iter().all(has_cap)
                    || (!inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch))
                    || !kernel_ok(&inc.min_kernel))
            {
                continue;
            }
            let exc = &rule.excludes;
            if exc.caps.iter().any(has_cap)
                || exc.arches.iter().any(|a| a == arch)
                || (!exc.min_kernel.is_empty() && kernel_ok(&exc.min_kernel))
            {
                continue;
            }
            let names = if rule.name.is_empty() {
                rule.names.clone()
            } else {
                vec![rule.name.clone()]
            };
            let mut entry = json!({"names": names, "action": rule.action});
            if let Some(errno) = rule.errno_ret {
                entry["errnoRet"] = json!(errno);
            }
            if !rule.args.is_empty() {
                entry["args"] = json!(rule
                    .args
                    .iter()
                    .map(|a| json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}))
                    .collect::<Vec<_>>());
            }
            syscalls.push(entry);
        }
        let mut out = json!({"defaultAction": self.default_action, "syscalls": syscalls});
        if let Some(errno) = self.default_errno_ret {
            out["defaultErrnoRet"] = json!(errno);
        }
        if !architectures.is_empty() {
            out["architectures"] = json!(architectures);
        }
        if !self.flags.is_empty() {
            out["flags"] = json!(self.flags);
        }
        if !self.listener_path.is_empty() {
            out["listenerPath"] = json!(self.listener_path);
            out["listenerMetadata"] = json!(self.listener_metadata);
        }
        out
    }
}

/// Namespace flags of clone(2) a process without CAP_SYS_ADMIN must not pass:
/// NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NS_FLAGS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/// Syscalls every container may make: what ordinary programs need, without those that
/// reach outside the container (mount, namespaces, kernel modules, clock, keyring, ...).
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls allowed only with a capability: (capability, syscalls).
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
];

fn allow(names: &[&str]) -> Rule {
    Rule {
        names: names.iter().map(|n| n.to_string()).collect(),
        action: "SCMP_ACT_ALLOW".into(),
        ..Default::default()
    }
}

/// berth's default profile, following docker's rules: deny with EPERM by default; the
/// ordinary syscalls; the powerful ones when the matching capability is held; clone
/// without namespace flags (and clone3, whose flags seccomp cannot see, refused with
/// ENOSYS so libc falls back to clone) for a process without CAP_SYS_ADMIN.
pub fn default_profile() -> Profile {
    let mut syscalls = vec![allow(ALLOWED)];
    syscalls.push(Rule {
        comment: "ptrace is harmless since 4.8, where seccomp is rechecked after it".into(),
        includes: Filter {
            min_kernel: "4.8".into(),
            ..Default::default()
        },
        ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
    });
    // Only the personalities that do not weaken ASLR and the like.
    for persona in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(Rule {
            args: vec![Arg {
                index: 0,
                value: persona,
                value_two: 0,
                op: "SCMP_CMP_EQ".into(),
            }],
            ..allow(&["personality"])
        });
    }
    // Every socket family but vsock (40), which reaches the hypervisor.
    syscalls.push(Rule {
        args: vec![Arg {
            index: 0,
            value: 40,
            value_two: 0,
            op: "SCMP_CMP_NE".into(),
        }],
        ..allow(&["socket"])
    });
    syscalls.push(Rule {
        includes: Filter {
            arches: vec!["amd64".into(), "x32".into(), "386".into()],
            ..Default::default()
        },
        ..allow(&["arch_prctl", "modify_ldt"])
    });
    syscalls.push(Rule {
        includes: Filter {
            arches: vec!["arm".into(), "arm64".into()],
            ..Default::default()
        },
        ..allow(&[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ])
    });
    for (cap, names) in BY_CAPABILITY {
        syscalls.push(Rule {
            includes: Filter {
                caps: vec![cap.to_string()],
                ..Default::default()
            },
            ..allow(names)
        });
    }
    syscalls.push(Rule {
        comment: "clone without new namespaces".into(),
        args: vec![Arg {
            index: 0,
            value: CLONE_NS_FLAGS,
            value_two: 0,
            op: "SCMP_CMP_MASKED_EQ".into(),
        }],
        excludes: Filter {
            caps: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        },
        ..allow(&["clone"])
    });
    syscalls.push(Rule {
        names: vec!["clone3".into()],
        action: "SCMP_ACT_ERRNO".into(),
        errno_ret: Some(libc::ENOSYS as u32),
        excludes: Filter {
            caps: vec!["CAP_SYS_ADMIN".into()],
            ..Default::default()
        },
        ..Default::default()
    });
    let arch_map = |main: &str, subs: &[&str]| ArchMap {
        architecture: main.into(),
        sub_architectures: subs.iter().map(|s| s.to_string()).collect(),
    };
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        arch_map: vec![
            arch_map("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
            arch_map("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
            arch_map("SCMP_ARCH_RISCV64", &[]),
            arch_map("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
            arch_map("SCMP_ARCH_PPC64LE", &[]),
        ],
        syscalls,
        ..Default::default()
    }
}

/// The `linux.seccomp` object for a container, or `None` for no filter.
pub fn oci_seccomp(mode: &SeccompMode, privileged: bool, caps: &[String]) -> Option<Value> {
    if privileged {
        return None;
    }
    match mode {
        SeccompMode::Unconfined => None,
        SeccompMode::Default => Some(default_profile().to_oci(caps)),
        // Checked at create; a profile gone bad since then confines with the default.
        SeccompMode::Profile(text) => Some(
            parse_profile(text)
                .unwrap_or_else(|_| default_profile())
                .to_oci(caps),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(oci: &Value) -> Vec<String> {
        oci["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r["args"].is_null())
            .flat_map(|r| r["names"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn default_profile_follows_capabilities() {
        let plain = default_profile().to_oci(&["CAP_CHOWN".into()]);
        assert_eq!(plain["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(plain["defaultErrnoRet"], 1);
        let allowed = names(&plain);
        assert!(allowed.contains(&"read".to_string()));
        assert!(!allowed.contains(&"mount".to_string()));
        assert!(!allowed.contains(&"unshare".to_string()));
        // clone only without namespace flags; clone3 refused with ENOSYS.
        let rules = plain["syscalls"].as_array().unwrap();
        let clone = rules
            .iter()
            .find(|r| r["names"] == json!(["clone"]))
            .unwrap();
        assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone["args"][0]["value"], CLONE_NS_FLAGS);
        assert!(rules
            .iter()
            .any(|r| r["names"] == json!(["clone3"]) && r["errnoRet"] == libc::ENOSYS));

        let admin = default_profile().to_oci(&["CAP_SYS_ADMIN".into()]);
        let allowed = names(&admin);
        assert!(allowed.contains(&"mount".to_string()));
        assert!(allowed.contains(&"clone".to_string()));
        assert!(!admin["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["names"] == json!(["clone3"]) && r["action"] == "SCMP_ACT_ERRNO"));
    }

    #[test]
    fn arch_map_expands_native_arch() {
        let oci = default_profile().to_oci(&[]);
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(
                oci["architectures"],
                json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
            );
            assert!(names(&oci).contains(&"arch_prctl".to_string()));
        }
    }

    #[test]
    fn default_profile_is_valid_oci() {
        let oci = default_profile().to_oci(&[]);
        let parsed: Result<oci_spec::runtime::LinuxSeccomp, _> = serde_json::from_value(oci);
        assert!(parsed.is_ok(), "{parsed:?}");
        // And round-trips through docker's format.
        let text = serde_json::to_string(&default_profile()).unwrap();
        assert_eq!(parse_profile(&text).unwrap(), default_profile());
    }

    #[test]
    fn user_profiles() {
        let p = parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"chmod","action":"SCMP_ACT_ERRNO"},
            {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"includes":{"caps":["CAP_NET_ADMIN"]}}]}"#,
        )
        .unwrap();
        let oci = p.to_oci(&[]);
        assert_eq!(
            oci["syscalls"],
            json!([{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}])
        );
        assert!(oci.get("architectures").is_none());
        assert!(parse_profile("{}").is_err());
        assert!(parse_profile(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).is_err());
        assert!(parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_WHAT"}]}]}"#
        )
        .is_err());
        let err = load_option("/nonexistent/profile.json").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/profile.json"));
        assert_eq!(oci_seccomp(&SeccompMode::Unconfined, false, &[]), None);
        assert_eq!(oci_seccomp(&SeccompMode::Default, true, &[]), None);
    }
}
