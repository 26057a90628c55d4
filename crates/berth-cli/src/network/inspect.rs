//! The typed schema of docker 28.2's network.Inspect, which `network inspect -f`
//! templates run over (the command itself is crate::inspect).

use crate::template::typed::Ty;

const STRINGS: Ty = Ty::Map(&Ty::Str);
const IPAM_CONFIG: Ty = Ty::Struct(
    "network.IPAMConfig",
    &[
        ("Subnet", "Subnet", true, Ty::Str),
        ("IPRange", "IPRange", true, Ty::Str),
        ("Gateway", "Gateway", true, Ty::Str),
        ("AuxAddress", "AuxiliaryAddresses", true, STRINGS),
    ],
);
const ENDPOINT: Ty = Ty::Struct(
    "network.EndpointResource",
    &[
        ("Name", "Name", false, Ty::Str),
        ("EndpointID", "EndpointID", false, Ty::Str),
        ("MacAddress", "MacAddress", false, Ty::Str),
        ("IPv4Address", "IPv4Address", false, Ty::Str),
        ("IPv6Address", "IPv6Address", false, Ty::Str),
    ],
);
const PEER: Ty = Ty::Struct(
    "network.PeerInfo",
    &[
        ("Name", "Name", false, Ty::Str),
        ("IP", "IP", false, Ty::Str),
    ],
);

/// docker 28.2's network.Inspect, which `network inspect -f` templates run over first.
pub const INSPECT: Ty = Ty::Struct(
    "network.Inspect",
    &[
        ("Name", "Name", false, Ty::Str),
        ("ID", "Id", false, Ty::Str),
        ("Created", "Created", false, Ty::Time),
        ("Scope", "Scope", false, Ty::Str),
        ("Driver", "Driver", false, Ty::Str),
        ("EnableIPv4", "EnableIPv4", false, Ty::Bool),
        ("EnableIPv6", "EnableIPv6", false, Ty::Bool),
        (
            "IPAM",
            "IPAM",
            false,
            Ty::Struct(
                "network.IPAM",
                &[
                    ("Driver", "Driver", false, Ty::Str),
                    ("Options", "Options", false, STRINGS),
                    ("Config", "Config", false, Ty::Slice(&IPAM_CONFIG)),
                ],
            ),
        ),
        ("Internal", "Internal", false, Ty::Bool),
        ("Attachable", "Attachable", false, Ty::Bool),
        ("Ingress", "Ingress", false, Ty::Bool),
        (
            "ConfigFrom",
            "ConfigFrom",
            false,
            Ty::Struct(
                "network.ConfigReference",
                &[("Network", "Network", false, Ty::Str)],
            ),
        ),
        ("ConfigOnly", "ConfigOnly", false, Ty::Bool),
        ("Containers", "Containers", false, Ty::Map(&ENDPOINT)),
        ("Options", "Options", false, STRINGS),
        ("Labels", "Labels", false, STRINGS),
        ("Peers", "Peers", true, Ty::Slice(&PEER)),
        ("Services", "Services", true, Ty::Map(&Ty::Any)),
    ],
);
