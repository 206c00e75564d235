//! Auto-deleveraging of many liquidations in one command: the queue of a (market, side) is
//! ranked once, at the command's mark, and walked in order across all of the command's
//! liquidations; every lot is accounted for and money is conserved to the quantum. Every
//! command also goes through the event oracle, whose ADL checks follow the same queue.

mod common;

use cascade_engine::event::outcome;
use cascade_engine::oracle::Oracle;
use cascade_engine::risk_params::AdlPolicy;
use cascade_engine::{AccountId, Command, Event, Limits, MarketId};
use cascade_risk::adl::{adl_score, sort_queue, AdlCandidate};
use cascade_risk::{PositionSize, Price, Quote};
use common::{adl_market, AdlCascade, Harness};

const CASCADE: AdlCascade = AdlCascade {
    first: 0,
    longs: 100,
    shorts: 50,
    short_lots: 10,
};

/// The shorts in the order BitMEX's score ranks them at `mark`, computed here from each
/// account's public figures (entry from the quote balance, equity = collateral + PnL), not by
/// the engine's ranking code.
fn expected_queue(h: &Harness, mark: i64) -> Vec<u32> {
    let mut ranked: Vec<AdlCandidate<u32>> = (0..CASCADE.shorts)
        .map(|k| {
            let a = CASCADE.short(k);
            let handle = h.engine.accounts().find(a, 0).expect("short has a record");
            let p = *h.engine.accounts().get(handle);
            let entry = p.quote.abs() / p.size.abs();
            let equity = h.engine.accounts().collateral(a) + p.size * mark + p.quote;
            let score = adl_score(
                PositionSize(p.size),
                Price(entry),
                Price(mark),
                Quote(equity),
                1,
            )
            .expect("valid position");
            AdlCandidate { account: a, score }
        })
        .collect();
    sort_queue(&mut ranked);
    ranked.iter().map(|c| c.account).collect()
}

/// A harness whose every command is also checked by the event oracle.
struct Checked {
    h: Harness,
    oracle: Oracle,
}

impl Checked {
    fn new(policy: AdlPolicy) -> Self {
        let mut c = Self {
            h: Harness::bare(Limits::SMALL),
            oracle: Oracle::new(),
        };
        for command in adl_market(policy) {
            c.step(command);
        }
        for command in CASCADE.open() {
            let events = c.step(command);
            assert!(
                !events.iter().any(|e| matches!(e, Event::Rejected { .. })),
                "{events:?}"
            );
        }
        c
    }

    fn step(&mut self, command: Command) -> Vec<Event> {
        let cmd = self.h.stamp(command);
        let events = self.h.apply(&cmd);
        if let Err(e) = self.oracle.check(&self.h.engine, &cmd, &events) {
            panic!("oracle: {e}");
        }
        events
    }
}

/// Σ collateral + Σ quote balances + insurance fund + fee pool = deposits − withdrawals.
fn money_conserved(h: &Harness) {
    let accounts = h.engine.accounts();
    let collateral: i64 = (0..accounts.len() as u32)
        .map(|a| accounts.collateral(a))
        .sum();
    let quotes: i64 = accounts
        .all_positions()
        .iter()
        .map(|p| p.quote + p.isolated_margin)
        .sum();
    let t = h.engine.treasury();
    assert_eq!(
        collateral + quotes + t.insurance_fund + t.fee_pool,
        t.deposits - t.withdrawals
    );
}

/// Opens the cascade's positions and applies the gap; returns the gap's events and the queue
/// expected at its mark.
fn cascade(policy: AdlPolicy) -> (Harness, Vec<Event>, Vec<u32>) {
    let mut c = Checked::new(policy);
    for i in 0..CASCADE.longs {
        assert_eq!(c.h.position(CASCADE.long(i), 0), CASCADE.long_lots());
    }
    // The queue at the gap's mark, from the positions just before it.
    let queue = expected_queue(&c.h, 900);
    let events = c.step(AdlCascade::gap());
    money_conserved(&c.h);
    (c.h, events, queue)
}

#[test]
fn one_command_of_adl_liquidations_walks_one_queue_in_order() {
    let (h, events, queue) = cascade(AdlPolicy::Queue);
    let mut left: Vec<i64> = vec![CASCADE.short_lots; CASCADE.shorts as usize];
    let short_index = |a: AccountId| (a.0 - CASCADE.short(0)) as usize;
    let (mut started, mut ended) = (0u32, 0u32);
    let mut last_rank: Option<u32> = None;
    let mut in_liquidation: Option<u32> = None;
    for e in &events {
        match e {
            Event::LiquidationStarted { .. } => {
                started += 1;
                in_liquidation = None;
            }
            Event::Deleveraged {
                counterparty,
                qty,
                rank,
                market,
                ..
            } => {
                assert_eq!(*market, MarketId(0));
                // The rank is the counterparty's place in the command's queue.
                assert_eq!(queue[*rank as usize], counterparty.0, "{e:?}");
                // Within a liquidation ranks strictly increase; across the command they never
                // go back.
                if let Some(r) = in_liquidation {
                    assert!(*rank > r, "{e:?}");
                }
                if let Some(r) = last_rank {
                    assert!(*rank >= r, "{e:?}");
                }
                // Queue order: every earlier rank is closed before this one is touched.
                for earlier in &queue[..*rank as usize] {
                    assert_eq!(left[short_index(AccountId(*earlier))], 0, "{e:?}");
                }
                left[short_index(*counterparty)] -= qty.0;
                assert!(left[short_index(*counterparty)] >= 0);
                in_liquidation = Some(*rank);
                last_rank = Some(*rank);
            }
            Event::LiquidationEnded {
                outcome: bits,
                closed,
                ..
            } => {
                ended += 1;
                assert_eq!(*bits & outcome::CLOSED, outcome::CLOSED, "{e:?}");
                assert_eq!(closed.0, CASCADE.long_lots());
            }
            _ => {}
        }
    }
    // Every long went through ADL in this one command, against every short, in queue order.
    assert_eq!((started, ended), (CASCADE.longs, CASCADE.longs));
    assert_eq!(last_rank, Some(CASCADE.shorts - 1));
    assert!(left.iter().all(|l| *l == 0), "{left:?}");
    for k in 0..CASCADE.shorts {
        assert_eq!(h.position(CASCADE.short(k), 0), 0);
    }
    for i in 0..CASCADE.longs {
        assert_eq!(h.position(CASCADE.long(i), 0), 0);
    }
}

#[test]
fn pro_rata_shares_each_liquidation_over_the_remaining_queue() {
    let (h, events, queue) = cascade(AdlPolicy::ProRata);
    let mut fills: Vec<(u32, i64)> = Vec::new();
    let mut first: Option<Vec<(u32, i64)>> = None;
    let mut liquidations = 0u32;
    for e in &events {
        match e {
            Event::LiquidationStarted { .. } => fills.clear(),
            Event::Deleveraged {
                counterparty,
                qty,
                rank,
                ..
            } => {
                assert_eq!(queue[*rank as usize], counterparty.0, "{e:?}");
                if let Some((r, _)) = fills.last() {
                    assert!(*rank > *r, "{e:?}");
                }
                fills.push((*rank, qty.0));
            }
            Event::LiquidationEnded { closed, .. } => {
                liquidations += 1;
                assert_eq!(closed.0, CASCADE.long_lots());
                let shared: i64 = fills.iter().map(|(_, q)| q).sum();
                assert_eq!(shared, closed.0, "shares sum to the position");
                first.get_or_insert_with(|| fills.clone());
            }
            _ => {}
        }
    }
    assert_eq!(liquidations, CASCADE.longs);
    // The first liquidation's 5 lots over 50 equal positions: every exact share is 1/10 of a
    // lot, so each floors to 0 and the 5 lots go one each to the head of the queue.
    assert_eq!(first, Some((0..5).map(|r| (r, 1)).collect()));
    for k in 0..CASCADE.shorts {
        assert_eq!(h.position(CASCADE.short(k), 0), 0);
    }
}

#[test]
fn the_adl_indicator_ranks_as_the_queue_does() {
    let mut h = Harness::bare(Limits::SMALL);
    for c in adl_market(AdlPolicy::Queue) {
        h.step(c);
    }
    for c in CASCADE.open() {
        h.step(c);
    }
    // Ranked at the current mark, the queue's head shows five lights and its tail one, and
    // lights never increase down the queue.
    let queue = expected_queue(&h, 1_000);
    let lights: Vec<u8> = queue
        .iter()
        .map(|a| {
            h.engine
                .adl_indicator(AccountId(*a), MarketId(0))
                .expect("open position")
        })
        .collect();
    assert_eq!(lights.first(), Some(&5));
    assert_eq!(lights.last(), Some(&1));
    assert!(lights.windows(2).all(|w| w[0] >= w[1]), "{lights:?}");
}

#[test]
fn a_copy_taken_before_the_cascade_replays_it_exactly() {
    let mut h = Harness::bare(Limits::SMALL);
    for c in adl_market(AdlPolicy::Queue) {
        h.step(c);
    }
    for c in CASCADE.open() {
        h.step(c);
    }
    let mut copy = h.clone();
    let gap = h.stamp(AdlCascade::gap());
    let a = h.apply(&gap);
    let b = copy.apply(&gap);
    assert!(a.iter().any(|e| matches!(e, Event::Deleveraged { .. })));
    assert_eq!(a, b);
    assert_eq!(h.engine.state_hash(), copy.engine.state_hash());
}

#[test]
fn a_position_closed_after_the_ranking_is_passed_over() {
    let mut c = Checked::new(AdlPolicy::Queue);
    // The short ranked in the middle of the gap's queue bids to close its whole position at
    // 965: the first longs liquidated (entry 1009, bankrupt at 969) cannot sell that low, so
    // ADL ranks the queue with it inside; a later long, bankrupt at or below 965, sells into
    // the bid in its book stage and closes it before the walk reaches its rank.
    let queue = expected_queue(&c.h, 900);
    let middle = queue[25];
    c.step(Command::Place(common::buy(middle, 965, CASCADE.short_lots)));
    let events = c.step(AdlCascade::gap());
    let h = c.h;
    money_conserved(&h);
    let ranks: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            Event::Deleveraged { rank, .. } => Some(*rank),
            _ => None,
        })
        .collect();
    let closed_by_book = events
        .iter()
        .any(|e| matches!(e, Event::Trade { maker_account, .. } if maker_account.0 == middle));
    assert!(closed_by_book, "{events:?}");
    assert_eq!(h.position(middle, 0), 0);
    // Ranks keep the gap's queue: never back, and rank 25 passed over.
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    assert!(ranks.contains(&24) && ranks.contains(&26), "{ranks:?}");
    assert!(!ranks.contains(&25), "{ranks:?}");
    for e in &events {
        if let Event::Deleveraged {
            counterparty, rank, ..
        } = e
        {
            assert_eq!(queue[*rank as usize], counterparty.0);
        }
    }
    for k in 0..CASCADE.shorts {
        assert_eq!(h.position(CASCADE.short(k), 0), 0);
    }
}

#[test]
fn the_oracle_refuses_a_rank_that_leaves_the_command_s_queue() {
    let mut c = Checked::new(AdlPolicy::Queue);
    let mut before = c.oracle.clone();
    let cmd = c.h.stamp(AdlCascade::gap());
    let events = c.h.apply(&cmd);
    assert_eq!(c.oracle.check(&c.h.engine, &cmd, &events), Ok(()));
    // The second liquidation goes on from the first one's last rank; a stream in which it
    // started one rank further, with the same counterparty, names that account at two ranks.
    let second = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::LiquidationStarted { .. }))
        .nth(1)
        .map(|(i, _)| i)
        .expect("a second liquidation");
    let mut forged = events.clone();
    let first_fill = forged[second..]
        .iter_mut()
        .find(|e| matches!(e, Event::Deleveraged { .. }))
        .expect("the second liquidation deleverages");
    if let Event::Deleveraged { rank, .. } = first_fill {
        *rank += 1;
    }
    let err = before
        .check(&c.h.engine, &cmd, &forged)
        .expect_err("a forged rank");
    assert!(err.contains("disagrees with the command's queue"), "{err}");
}

#[test]
fn the_oracle_recomputes_the_queue_order() {
    let mut c = Checked::new(AdlPolicy::Queue);
    let mut before = c.oracle.clone();
    let cmd = c.h.stamp(AdlCascade::gap());
    let events = c.h.apply(&cmd);
    assert_eq!(c.oracle.check(&c.h.engine, &cmd, &events), Ok(()));
    // A stream whose first fill names the second counterparty instead keeps ranks increasing
    // and that account at one rank so far, so only ranking the queue again from the scores
    // shows it.
    let mut forged = events.clone();
    let cps: Vec<(usize, AccountId)> = forged
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Deleveraged { counterparty, .. } => Some((i, *counterparty)),
            _ => None,
        })
        .collect();
    let first = cps[0];
    let other = cps
        .iter()
        .find(|(_, a)| *a != first.1)
        .expect("a second counterparty")
        .1;
    if let Event::Deleveraged { counterparty, .. } = &mut forged[first.0] {
        *counterparty = other;
    }
    let err = before
        .check(&c.h.engine, &cmd, &forged)
        .expect_err("a swapped queue");
    assert!(err.contains("recomputed, it ranks"), "{err}");
}
