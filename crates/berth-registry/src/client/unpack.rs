//! The blocking half of a pull: every needed layer unpacked from its download as it arrives
//! (one thread each), then the image registered, all under one lease against garbage
//! collection.

use std::sync::Arc;

use berth_image::reference::Reference;
use berth_image::ImageStore;

use super::download::Growing;
use super::manifest::Descriptor;
use super::progress::{Progress, Throttle};
use super::RegistryError;

/// The blocking half: unpack every needed layer as it arrives, then register the image.
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_all(
    store: &ImageStore,
    progress: &Progress,
    diff_ids: &[String],
    layers: &[Descriptor],
    ids: &[String],
    growing: &[(usize, Arc<Growing>)],
    config: &[u8],
    manifest: &[u8],
    refs: &[Reference],
) -> Result<berth_image::Registered, RegistryError> {
    let mut lease = store.hold_for_pull(diff_ids);
    let fail_all = |msg: &str| {
        for (_, g) in growing {
            g.finish(Err(msg.to_string()));
        }
    };
    // Layers sharing a blob are unpacked by the first one only.
    let mut first_of: Vec<(usize, &Arc<Growing>)> = Vec::new();
    for (i, g) in growing {
        if !first_of
            .iter()
            .any(|(j, _)| layers[*j].digest == layers[*i].digest)
        {
            first_of.push((*i, g));
        }
    }
    let results: Vec<(usize, Result<u64, RegistryError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = first_of
            .iter()
            .map(|(i, g)| {
                let i = *i;
                let g = (*g).clone();
                let progress = progress.clone();
                let id = ids[i].clone();
                let size = layers[i].size;
                let what = layers[i].digest.clone();
                let fail_all = &fail_all;
                let h = s.spawn(move || {
                    let r = (|| -> Result<u64, RegistryError> {
                        let mut reader = g
                            .reader()
                            .map_err(|e| RegistryError::io(format!("blob {what}"), e))?;
                        let mut bar = Throttle::new(progress.clone(), &id, "Extracting");
                        reader.on_read(move |pos, done| {
                            if done {
                                bar.update(pos, size);
                            }
                        });
                        let n = store.store_layer(reader, &what, &diff_ids[..=i])?;
                        progress.layer(&id, "Pull complete");
                        Ok(n)
                    })();
                    // A failed unpack stops the others; a failed download only its own
                    // layer, so finished layers stay stored for the next attempt.
                    if let Err(e) = &r {
                        if !g.failed() {
                            fail_all(&e.to_string());
                        }
                    }
                    r
                });
                (i, h)
            })
            .collect();
        handles
            .into_iter()
            .map(|(i, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(RegistryError::Registry("layer unpack panicked".into()))
                });
                (i, r)
            })
            .collect()
    });
    let mut sizes_by_index = std::collections::HashMap::new();
    for (i, r) in results {
        sizes_by_index.insert(i, r?);
    }
    // Layers repeated in the image: stored by their first occurrence, or unpacked now on
    // their own chain.
    for (i, g) in growing {
        if sizes_by_index.contains_key(i) {
            continue;
        }
        if !store.has_layer(&diff_ids[..=*i]) {
            let reader = std::fs::File::open(&g.path)
                .map_err(|e| RegistryError::io(format!("open {}", g.path.display()), e))?;
            let n = store.store_layer(reader, &layers[*i].digest, &diff_ids[..=*i])?;
            sizes_by_index.insert(*i, n);
        }
        progress.layer(&ids[*i], "Pull complete");
    }
    let sizes: Vec<u64> = (0..layers.len())
        .map(|i| {
            sizes_by_index
                .get(&i)
                .copied()
                .or_else(|| store.layer_size(&diff_ids[..=i]))
                .unwrap_or(0)
        })
        .collect();
    Ok(store.register_pulled(config, sizes, manifest, refs, &mut lease)?)
}
