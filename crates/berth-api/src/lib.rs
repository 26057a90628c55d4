//! Docker Engine API wire types, version negotiation and stream framing.
