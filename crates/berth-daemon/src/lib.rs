//! The berth daemon: object model, orchestration and the Engine API server.
