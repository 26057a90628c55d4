//! Image store: content-addressed blobs, references, layers, overlay snapshots, save/load/import/export.
