//! `berth daemon`: dockerd's flags, mapped onto the daemon's configuration.

use clap::Args;

/// Flags of `berth daemon`, named as dockerd names them.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {}

/// Runs the daemon until it is told to stop.
pub fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let _ = args;
    Ok(())
}
