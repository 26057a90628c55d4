//! Container config to OCI bundle to isolated process, on youki's libcontainer.
