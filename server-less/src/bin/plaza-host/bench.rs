//! `plaza-host bench …`: the host's benchmarks, each on a throwaway
//! network, their figures on standard error and their last line JSON.

use clap::Subcommand;
use server_less::home::Home;

#[derive(Subcommand)]
pub(crate) enum Bench {
    /// Bots on loopback walking one world at 20 Hz: the host's tick time
    /// and the bytes it sends each client (a throwaway network).
    World {
        /// Hosts of one network serving the world, the bots split
        /// between them.
        #[arg(long, default_value_t = 1)]
        hosts: usize,
        /// Bots.
        #[arg(long, default_value_t = 200)]
        bots: usize,
        /// Seconds measured, after a 12 s warm-up.
        #[arg(long, default_value_t = 30)]
        seconds: u32,
    },
    /// Validators on loopback, each a whole host, under a steady load of
    /// payments and rentals: finalised transactions a second and the
    /// time from submission to the final block (a throwaway network).
    Network {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        hosts: usize,
        /// Transactions submitted per second, spread over the hosts: by
        /// default a fifth above the 2,000 a second a network must
        /// finalise, so that what it finalises shows whether it can.
        #[arg(long, default_value_t = 2_400)]
        rate: u32,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        seconds: u32,
    },
    /// Honest players walk, search and rent while each attack a host must
    /// withstand runs in turn (a throwaway network): their disconnects,
    /// search round trips against a quiet run, and blocks missed.
    Hostile {
        /// Honest players.
        #[arg(long, default_value_t = 50)]
        bots: usize,
        /// Seconds of each attack, and of the quiet run.
        #[arg(long, default_value_t = 8)]
        seconds: u32,
    },
    /// A new host's start from a state snapshot against replaying every
    /// block: a history of payments opening --objects accounts is made,
    /// then replayed into a new ledger, and cut into a snapshot that a new
    /// ledger is rebuilt from; and the disk an empty host takes.
    Sync {
        /// Objects (accounts) in the state.
        #[arg(long, default_value_t = 1_000_000)]
        objects: usize,
    },
    /// Time rents from a player's client sending them to the client
    /// hearing they are final, over world sessions on a solo host under a
    /// steady load (a throwaway network in a temporary directory).
    Finality {
        /// Rents submitted per second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        seconds: u32,
    },
}

/// Runs one benchmark and prints its figures.
pub(crate) fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Network {
            hosts,
            rate,
            seconds,
        } => {
            let dir = tempfile::tempdir()?;
            let runtime = tokio::runtime::Runtime::new()?;
            let report = runtime.block_on(server_less::bench::network(
                dir.path(),
                server_less::bench::NetworkOptions {
                    hosts,
                    rate,
                    seconds,
                },
            ))?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            let (p50, p99) = (report.percentile(0.50), report.percentile(0.99));
            eprintln!(
                "network: {hosts} validators; {} transactions at {rate}/s for {seconds} s, {} final in {:.1} s; steady load: {} final in {:.1} s, {:.0} tx/s (floor 2000); submit to final p50 {:.1} ms (floor 400), p99 {:.1} ms (floor 1500), slowest {:.1} ms",
                report.submitted,
                report.finalised,
                report.elapsed.as_secs_f64(),
                report.final_in_window,
                report.window.as_secs_f64(),
                report.final_tx_s(),
                ms(p50),
                ms(p99),
                ms(report.percentile(1.0)),
            );
            println!(
                "{{\"hosts\": {hosts}, \"final_tx_s\": {:.0}, \"final_p50_ms\": {:.1}, \"final_p99_ms\": {:.1}}}",
                report.final_tx_s(),
                ms(p50),
                ms(p99)
            );
        }
        Bench::Finality { rate, seconds } => {
            let dir = tempfile::tempdir()?;
            let home = Home::new(dir.path().join("host"));
            let runtime = tokio::runtime::Runtime::new()?;
            let report = runtime.block_on(server_less::bench::finality(
                &home,
                server_less::bench::FinalityOptions { rate, seconds },
            ))?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            let (p50, p99) = (report.percentile(0.50), report.percentile(0.99));
            eprintln!(
                "finality: {} rents at {rate}/s for {seconds} s, {} applied; submit to final p50 {:.1} ms, p99 {:.1} ms, slowest {:.1} ms (floor: p50 150 ms)",
                report.submitted,
                report.applied,
                ms(p50),
                ms(p99),
                ms(report.percentile(1.0)),
            );
            println!(
                "{{\"final_p50_ms\": {:.1}, \"final_p99_ms\": {:.1}}}",
                ms(p50),
                ms(p99)
            );
        }
        Bench::Sync { objects } => {
            let dir = tempfile::tempdir()?;
            let report =
                server_less::bench::sync(dir.path(), server_less::bench::SyncOptions { objects })?;
            let secs = |d: std::time::Duration| d.as_secs_f64();
            let mb = |bytes: u64| bytes as f64 / (1 << 20) as f64;
            eprintln!(
                "sync: {} objects in {} blocks; snapshot {:.1} MB taken in {:.2} s; rebuilt from \
             it in {:.2} s (floors: 60 s, and a quarter of the replay: {:.2} s); every block \
             replayed in {:.2} s; an empty host takes {:.1} MB on disk (floor 20 MB)",
                report.objects,
                report.blocks,
                mb(report.snapshot_bytes),
                secs(report.snapshot),
                secs(report.sync),
                secs(report.replay) / 4.0,
                secs(report.replay),
                mb(report.empty_home_bytes),
            );
            println!(
                "{{\"objects\": {}, \"snapshot_mb\": {:.1}, \"sync_s\": {:.2}, \"replay_s\": {:.2}, \"empty_home_mb\": {:.1}}}",
                report.objects,
                mb(report.snapshot_bytes),
                secs(report.sync),
                secs(report.replay),
                mb(report.empty_home_bytes),
            );
        }
        Bench::Hostile { bots, seconds } => {
            let dir = tempfile::tempdir()?;
            let home = Home::new(dir.path().join("host"));
            let runtime = tokio::runtime::Runtime::new()?;
            let report = runtime.block_on(server_less::bench::hostile(
                &home,
                server_less::bench::HostileOptions { bots, seconds },
            ))?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            eprintln!(
                "hostile: {bots} honest players; quiet run: {} searches, p99 {:.1} ms",
                report.baseline_queries,
                ms(report.baseline_query_p99)
            );
            for attack in &report.attacks {
                eprintln!(
                    "  {:<42} {:>4} searches, p99 {:>7.1} ms, {} honest disconnects",
                    attack.name,
                    attack.queries,
                    ms(attack.query_p99),
                    attack.disconnects
                );
            }
            eprintln!(
                "payments timed: {}, final after more than 1 s: {}; session server restarts: {} (floors: 0 honest disconnects, 0 missed blocks, p99 under attack <= 2 x quiet)",
                report.payments, report.blocks_missed, report.restarts
            );
            println!(
                "{{\"attacks\": {}, \"honest_disconnects\": {}, \"honest_query_p99_ms\": {:.1}, \"baseline_query_p99_ms\": {:.1}, \"blocks_missed\": {}}}",
                report.attacks.len(),
                report.honest_disconnects,
                ms(report.attacked_query_p99()),
                ms(report.baseline_query_p99),
                report.blocks_missed
            );
        }
        Bench::World {
            hosts,
            bots,
            seconds,
        } => {
            let dir = tempfile::tempdir()?;
            let runtime = tokio::runtime::Runtime::new()?;
            let report = runtime.block_on(server_less::bench::world(
                dir.path(),
                server_less::bench::WorldOptions {
                    hosts,
                    bots,
                    seconds,
                },
            ))?;
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            let (p50, p99) = (report.tick(0.50), report.tick(0.99));
            let kb_s = report.client_rate() / 1e3;
            let cpu_p99 = ms(report.tick_cpu(0.99));
            eprintln!(
                "world: {} of {bots} bots walking for {seconds} s, {:.1} avatars in view each; {} ticks: p50 {:.2} ms, p99 {:.2} ms, slowest {:.2} ms (floor p99 5 ms); the session thread's own CPU per tick: p50 {:.2} ms, p99 {cpu_p99:.2} ms; per client {:.1} KB/s mean, {:.1} KB/s most (floor 32 KB/s)",
                report.bots,
                report.in_view,
                report.ticks.len(),
                ms(p50),
                ms(p99),
                ms(report.tick(1.0)),
                ms(report.tick_cpu(0.50)),
                kb_s,
                report.client_rate_max() / 1e3,
            );
            if hosts > 1 {
                let cross = |p: f64| ms(report.cross_host(p));
                eprintln!(
                    "across hosts: {} probe steps timed to their sight at the other host, p50 {:.1} ms, p99 {:.1} ms, slowest {:.1} ms; {} not seen within 500 ms (counted as 500 ms) (floor p99 150 ms); the tick figures are the busiest host's",
                    report.crossings.len(),
                    cross(0.50),
                    cross(0.99),
                    cross(1.0),
                    report.cross_host_missed,
                );
                let failover_s = report.failover.map_or(0.0, |took| took.as_secs_f64());
                eprintln!(
                    "failover: a player whose host was killed was back in the world at another host, wearing what it wore, {failover_s:.2} s after the kill (floor 5 s)"
                );
                println!(
                    "{{\"hosts\": {hosts}, \"bots\": {}, \"tick_p99_ms\": {:.2}, \"tick_cpu_p99_ms\": {cpu_p99:.2}, \"client_kb_s\": {:.1}, \"cross_host_p99_ms\": {:.1}, \"failover_s\": {failover_s:.2}}}",
                    report.bots,
                    ms(p99),
                    kb_s,
                    cross(0.99)
                );
            } else {
                println!(
                    "{{\"bots\": {}, \"tick_p50_ms\": {:.2}, \"tick_p99_ms\": {:.2}, \"tick_cpu_p99_ms\": {cpu_p99:.2}, \"client_kb_s\": {:.1}}}",
                    report.bots,
                    ms(p50),
                    ms(p99),
                    kb_s
                );
            }
        }
    }
    Ok(())
}
