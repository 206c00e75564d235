//! The order-entry path without its sockets: what hostile or confused OUCH clients send,
//! decoded, mapped by each account's OUCH order table (`OuchAccount::on_inbound`: UserRefNum
//! checks, the symbol and price mapping, replace and cancel of live orders), sequenced into
//! an engine set up as the embedded server configuration sets up its own (markets, risk
//! parameters, index prices, demo deposits), and the events mapped back into every account's
//! OUCH messages and the ITCH feed, as the core does. No input may panic anywhere on that
//! path, and the engine's audit holds after every command.
//!
//! The native perp channel goes the same way (`native_command` for a trader's own account or
//! the operator, `native_events` back).
//!
//! The input is a list of messages, each a pick byte, a length byte and that many bytes of
//! message (the last takes what is left). The pick's high bit sends the bytes on the native
//! channel (the next bit: as the operator), else as OUCH; its low bits pick the account.
//!
//! Run on stable: `cargo fuzz run order_entry -s none`.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use cascade_engine::{AccountId, Command, Engine, Limits, Sequenced};
use cascade_gateway::codec::map::{
    native_command, native_events, Batch, InboundAction, ItchFeed, MarketRegistry, NativeOrigin,
    OuchAccount, Role,
};
use cascade_gateway::codec::{native, ouch};
use cascade_gateway::server::Config;
use cascade_risk::{Price, Quote};
use libfuzzer_sys::fuzz_target;

/// The engine after the embedded configuration's genesis, the registry, and the accounts.
struct Genesis {
    engine: Engine,
    registry: MarketRegistry,
    accounts: Vec<AccountId>,
}

fn genesis() -> &'static Genesis {
    static G: OnceLock<Genesis> = OnceLock::new();
    G.get_or_init(|| {
        let config = Config::embedded();
        let markets = config.markets().expect("the embedded markets are valid");
        let mut registry = MarketRegistry::new();
        let mut engine = Engine::new(Limits::SMALL);
        let mut commands = Vec::new();
        for m in &markets {
            registry
                .insert(m.spec)
                .expect("the embedded markets fit OUCH");
            commands.push(Command::AddMarket(Box::new(m.spec)));
            commands.push(Command::SetRiskParams {
                market: m.spec.id,
                params: Box::new(m.risk.clone()),
            });
            commands.push(Command::SetIndexPrice {
                market: m.spec.id,
                index: Price(m.index_ticks),
                external_mark: None,
            });
        }
        let mut accounts: Vec<AccountId> =
            config.users.iter().map(|u| AccountId(u.account)).collect();
        accounts.sort_unstable();
        accounts.dedup();
        for u in &config.users {
            if u.deposit_quote > 0 {
                commands.push(Command::Deposit {
                    account: AccountId(u.account),
                    amount: Quote(u.deposit_quote),
                });
            }
        }
        for (seq, command) in (1..).zip(commands) {
            engine.apply(&Sequenced {
                seq,
                ts_ns: seq,
                command,
            });
        }
        Genesis {
            engine,
            registry,
            accounts,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let g = genesis();
    let mut engine = g.engine.clone();
    let mut tables: BTreeMap<AccountId, OuchAccount> = g
        .accounts
        .iter()
        .map(|a| (*a, OuchAccount::new(*a, 1 << 10)))
        .collect();
    let mut feed = ItchFeed::new();
    let mut rest = data;
    while let [pick, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        let account = g.accounts[usize::from(*pick & 0x3f) % g.accounts.len()];
        let ts_ns = engine.last_ts_ns() + 1_000;
        let mut origin = None;
        let command = if pick & 0x80 != 0 {
            let Ok(msg) = native::Inbound::decode(bytes) else {
                continue;
            };
            let role = if pick & 0x40 != 0 {
                Role::Operator
            } else {
                Role::Trader(account)
            };
            let Ok(command) = native_command(&msg, role, &g.registry) else {
                continue;
            };
            origin = Some(NativeOrigin::of(&msg));
            command
        } else {
            let Ok(msg) = ouch::Inbound::decode(bytes) else {
                continue;
            };
            let table = tables.get_mut(&account).expect("every account has a table");
            let InboundAction::Submit(command) = table.on_inbound(&msg, &g.registry, ts_ns) else {
                continue;
            };
            command
        };
        let seq = engine.last_seq() + 1;
        let events = engine
            .apply(&Sequenced {
                seq,
                ts_ns,
                command: command.clone(),
            })
            .to_vec();
        if let Err(e) = engine.audit() {
            panic!("audit after {command:?}: {e}");
        }
        let batch = Batch {
            seq,
            ts_ns,
            command: &command,
            events: &events,
        };
        for t in tables.values_mut() {
            t.on_batch(&batch, &g.registry, &mut |_| {});
        }
        feed.on_batch(&batch, &g.registry, &mut |_| {});
        native_events(&batch, &g.registry, origin, &mut |_, _| {});
    }
});
