//! Reports of equivocation: what the engine finds against a validator
//! that signed two different votes or proposals for one height and round,
//! in the ledger's form, signed and submitted for the ledger to slash.

use ledger::evidence::{Equivocation, Signed};
use ledger::{ChainId, Keypair};
use malachitebft_app_channel::app::types::MisbehaviorEvidence;
use malachitebft_core_types::{SignedMessage, Validator as _};
use tracing::{debug, info, warn};

use super::context::{ChainHeight, Plaza, Proposal, ValidatorAddress, ValidatorSet, Vote};
use super::signing::{ledger_value, vote_kind};
use crate::node::{HostHandle, Misbehaviour};

/// Tells the host which of `validators` signed two proposals or two votes
/// for one height and round, as the engine found them at `decided`, and
/// reports each to the ledger, signed with `key`: each is reported once
/// per height. The engine counts such a validator's power once, so the
/// chain does not fork while fewer than a third misbehave.
pub(super) fn report(
    host: &HostHandle,
    key: &Keypair,
    chain: &ChainId,
    validators: &ValidatorSet,
    decided: ChainHeight,
    evidence: &MisbehaviorEvidence<Plaza>,
) {
    let mut reports = Vec::new();
    for validator in validators.validators() {
        let address = validator.address();
        let proposals = evidence.proposals.get(address).map_or(0, Vec::len);
        let votes = evidence.votes.get(address).map_or(0, Vec::len);
        if proposals == 0 && votes == 0 {
            continue;
        }
        warn!(
            height = %decided,
            validator = %address,
            proposals,
            votes,
            "a validator signed conflicting messages"
        );
        host.report_misbehaviour(Misbehaviour {
            height: decided.0,
            validator: address.0,
            conflicting_proposals: proposals,
            conflicting_votes: votes,
        });
        // One report per validator is enough for the ledger to slash it.
        if let Some(report) = equivocation(address, evidence) {
            reports.push(report);
        }
    }
    if !reports.is_empty() {
        // Off the consensus loop: submitting waits on the ledger thread's
        // request queue, which players and peers share.
        tokio::spawn(submit_reports(
            host.clone(),
            key.clone(),
            chain.clone(),
            reports,
        ));
    }
}

/// Signs each report with the validator's key, with nonces in turn from
/// its account's next, and submits it; another host's report may be final
/// first, which is no matter.
async fn submit_reports(
    host: HostHandle,
    key: Keypair,
    chain: ChainId,
    reports: Vec<Equivocation>,
) {
    let me = key.address();
    let nonce = match host.account(me).await {
        Ok(account) => account.nonce,
        Err(err) => {
            warn!(%err, "reports of equivocation could not be made");
            return;
        }
    };
    for (report, nonce) in reports.into_iter().zip(nonce..) {
        let validator = report.validator;
        let op = ledger::Operation::ReportEquivocation(Box::new(report));
        let tx = market::transaction(chain.clone(), me, nonce, op, host.now()).sign(&key);
        match host.submit(tx).await {
            Ok(_) => info!(%validator, "reported a validator's conflicting messages to the ledger"),
            Err(err) => debug!(%validator, %err, "a report of equivocation was not taken"),
        }
    }
}

/// The ledger's form of the first pair of conflicting votes (or, failing
/// those, proposals) `evidence` holds against `validator`.
fn equivocation(
    validator: &ValidatorAddress,
    evidence: &MisbehaviorEvidence<Plaza>,
) -> Option<Equivocation> {
    let signature = |signature: &malachitebft_signing_ed25519::Signature| {
        ledger::Signature(signature.to_bytes())
    };
    if let Some((first, second)) = evidence
        .votes
        .get(validator)
        .and_then(|pairs| pairs.first())
    {
        let signed = |vote: &SignedMessage<Plaza, Vote>| Signed::Vote {
            kind: vote_kind(vote.message.kind),
            value: ledger_value(&vote.message.value),
            signature: signature(&vote.signature),
        };
        return Some(Equivocation {
            validator: validator.0,
            height: first.message.height.0,
            round: first.message.round.as_i64(),
            first: signed(first),
            second: signed(second),
        });
    }
    let (first, second) = evidence.proposals.get(validator)?.first()?;
    let signed = |proposal: &SignedMessage<Plaza, Proposal>| Signed::Proposal {
        value: ledger::BlockHash(proposal.message.value.0),
        pol_round: proposal.message.pol_round.as_i64(),
        signature: signature(&proposal.signature),
    };
    Some(Equivocation {
        validator: validator.0,
        height: first.message.height.0,
        round: first.message.round.as_i64(),
        first: signed(first),
        second: signed(second),
    })
}
