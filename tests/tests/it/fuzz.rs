//! Every decoder a player or a peer can reach, fuzzed for a short budget
//! (`plaza-fuzz` runs the long campaigns): no input may panic one or make
//! the process grow past its bound.

#[test]
fn no_decoder_panics_on_mutated_or_random_input() {
    let mut targets = plaza_tests::fuzz::targets();
    assert!(targets.len() >= 15);
    let outcomes = plaza_tests::fuzz::run(&mut targets, 4_000, 7, None, 2 << 30);
    for outcome in &outcomes {
        assert_eq!(outcome.inputs, 4_000, "{}", outcome.name);
        // The seeds themselves decode: the target reaches its decoder.
        assert!(outcome.accepted > 0, "{} accepted nothing", outcome.name);
        assert!(
            outcome.panics.is_empty(),
            "{} panicked: {:?}",
            outcome.name,
            outcome
                .panics
                .iter()
                .map(|(_, why)| why)
                .collect::<Vec<_>>()
        );
    }
}
