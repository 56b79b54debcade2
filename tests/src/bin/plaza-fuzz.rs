//! `plaza-fuzz`: every decoder a player or a peer can reach, fed mutated
//! and random inputs; exits non-zero at the first panic or if memory
//! grows past its bound.
//!
//! ```text
//! plaza-fuzz [--inputs N] [--seconds S] [--seed N] [--memory-mib M] [TARGET...]
//! ```
//!
//! `--inputs` is per target (default 100,000); `--seconds` stops each
//! target early; names pick targets (default: all). The last line is JSON:
//! `{"inputs": …, "panics": …, "peak_rss_mib": …, "seconds": …}`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use anyhow::{Context, bail};
use plaza_tests::fuzz;

fn main() -> anyhow::Result<()> {
    let mut inputs: u64 = 100_000;
    let mut seconds: Option<u64> = None;
    let mut seed: u64 = 1;
    let mut memory_mib: u64 = 2_048;
    let mut wanted: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            args.next()
                .with_context(|| format!("{name} needs a number"))?
                .parse()
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--inputs" => inputs = value("--inputs")?,
            "--seconds" => seconds = Some(value("--seconds")?),
            "--seed" => seed = value("--seed")?,
            "--memory-mib" => memory_mib = value("--memory-mib")?,
            "-h" | "--help" => {
                let names: Vec<&str> = fuzz::targets().iter().map(|t| t.name).collect();
                eprintln!(
                    "plaza-fuzz [--inputs N] [--seconds S] [--seed N] [--memory-mib M] [TARGET...]"
                );
                eprintln!("targets: {}", names.join(", "));
                return Ok(());
            }
            name => wanted.push(name.to_owned()),
        }
    }
    let mut targets: Vec<fuzz::Target> = fuzz::targets()
        .into_iter()
        .filter(|target| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|name| target.name.contains(name.as_str()))
        })
        .collect();
    if targets.is_empty() {
        bail!("no target matches {wanted:?}");
    }
    let started = Instant::now();
    let mut total = 0;
    let mut panics = 0;
    let mut peak = 0;
    for target in targets.iter_mut() {
        let deadline =
            seconds.map(|seconds| Instant::now() + std::time::Duration::from_secs(seconds));
        let outcome = fuzz::run(
            std::slice::from_mut(target),
            inputs,
            seed,
            deadline,
            memory_mib << 20,
        )
        .remove(0);
        peak = peak.max(plaza_tests::resident_bytes());
        total += outcome.inputs;
        panics += outcome.panics.len();
        println!(
            "{:<22} {:>10} inputs {:>10} accepted {} panics",
            outcome.name,
            outcome.inputs,
            outcome.accepted,
            outcome.panics.len()
        );
        for (input, why) in &outcome.panics {
            println!(
                "  panicked on {} bytes ({why}): {:02x?}",
                input.len(),
                &input[..input.len().min(64)]
            );
        }
    }
    println!(
        "{{\"inputs\": {total}, \"panics\": {panics}, \"peak_rss_mib\": {}, \"seconds\": {:.1}}}",
        peak >> 20,
        started.elapsed().as_secs_f64()
    );
    if panics > 0 {
        bail!("{panics} inputs panicked");
    }
    Ok(())
}
