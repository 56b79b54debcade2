//! Writes the sample pack to a directory: for each model its `.glb`, its
//! preview `.png` and its manifest `.json`, named by the model's slug.
//!
//! `assets-pack <directory> [creator-address]`

use std::path::PathBuf;

use anyhow::{Context, bail};
use assets::ImportLimits;
use assets::pack::sample_models;

/// The creator named in the manifests when none is given.
const DEFAULT_CREATOR: &str = "plaza-sample-pack";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        bail!("usage: assets-pack <directory> [creator-address]");
    };
    let creator = args.next().unwrap_or_else(|| DEFAULT_CREATOR.to_owned());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let limits = ImportLimits::default();
    let models = sample_models();
    for model in &models {
        let prepared = assets::prepare(&model.glb, &model.request(&creator), &limits)
            .with_context(|| format!("preparing {}", model.slug))?;
        for (extension, bytes) in [
            ("glb", &model.glb),
            ("png", &prepared.preview),
            ("json", &prepared.manifest_json),
        ] {
            let path = dir.join(format!("{}.{extension}", model.slug));
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        let id = prepared.manifest.content_id()?;
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{id}  {:<22} {:>7} triangles",
                model.slug, prepared.facts.triangles
            );
        }
    }
    Ok(())
}
