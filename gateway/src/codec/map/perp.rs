//! The native perp channel: requests → engine commands, events → native messages and who
//! receives them.

use cascade_engine::account::MarginMode;
use cascade_engine::{AccountId, Command, Event, MarketId, MarketSpec};
use cascade_risk::{Price, Quote};

use super::registry::MarketRegistry;
use super::{Batch, MapReject};
use crate::codec::native::{
    collateral_kind, margin_mode, Backstop, BackstopSet, Collateral, Deleveraged, Funding, Inbound,
    Instrument, InsuranceFund, IsolatedMarginSet, LeverageSet, LiquidationEnded,
    LiquidationStarted, MarginModeSet, MarkPrice, Outbound, RequestDone, RequestRejected,
    ACCOUNT_NONE,
};

/// What a native session may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A trading session: its own account's collateral, leverage, margin mode and isolated
    /// margin.
    Trader(AccountId),
    /// An operator session: any account, plus index prices, funding ticks, the backstop vault
    /// and insurance deposits.
    Operator,
}

/// Who receives a native message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The sessions of this account.
    Account(AccountId),
    /// Every subscriber of the public native feed.
    Public,
    /// The session whose request this command was.
    Requester,
}

/// The request a command came from: echoed in Request Done / Request Rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NativeOrigin {
    /// The request's RequestRef.
    pub request_ref: u32,
    /// The account it named, or [`ACCOUNT_NONE`].
    pub account: u32,
}

impl NativeOrigin {
    /// The origin of a request message.
    #[must_use]
    pub const fn of(msg: &Inbound) -> Self {
        let (request_ref, account) = match *msg {
            Inbound::Deposit(m) => (m.request_ref, m.account),
            Inbound::Withdraw(m) => (m.request_ref, m.account),
            Inbound::SetLeverage(m) => (m.request_ref, m.account),
            Inbound::SetMarginMode(m) => (m.request_ref, m.account),
            Inbound::TransferIsolatedMargin(m) => (m.request_ref, m.account),
            Inbound::SetIndexPrice(m) => (m.request_ref, ACCOUNT_NONE),
            Inbound::FundingTick(m) => (m.request_ref, ACCOUNT_NONE),
            Inbound::SetBackstop(m) => (m.request_ref, ACCOUNT_NONE),
            Inbound::InsuranceDeposit(m) => (m.request_ref, ACCOUNT_NONE),
            Inbound::Snapshot(m) => (m.request_ref, ACCOUNT_NONE),
        };
        Self {
            request_ref,
            account,
        }
    }
}

fn market_of(registry: &MarketRegistry, symbol: &[u8; 8]) -> Result<MarketId, MapReject> {
    registry
        .lookup(symbol)
        .map(|s| s.id)
        .ok_or(MapReject::UnknownSymbol)
}

fn own_account(role: Role, account: u32) -> Result<AccountId, MapReject> {
    match role {
        Role::Trader(a) if a.0 != account => Err(MapReject::NotAuthorized),
        _ => Ok(AccountId(account)),
    }
}

fn operator(role: Role) -> Result<(), MapReject> {
    match role {
        Role::Operator => Ok(()),
        Role::Trader(_) => Err(MapReject::NotAuthorized),
    }
}

/// Maps a native request to a command. Amount, leverage and price *values* are left to the
/// engine, which rejects them with its own codes.
///
/// # Errors
/// [`MapReject::NotAuthorized`] when a trader names another account or sends an operator
/// message; [`MapReject::UnknownSymbol`]; [`MapReject::MarginModeInvalid`].
pub fn native_command(
    msg: &Inbound,
    role: Role,
    registry: &MarketRegistry,
) -> Result<Command, MapReject> {
    Ok(match *msg {
        Inbound::Deposit(m) => Command::Deposit {
            account: own_account(role, m.account)?,
            amount: Quote(m.amount),
        },
        Inbound::Withdraw(m) => Command::Withdraw {
            account: own_account(role, m.account)?,
            amount: Quote(m.amount),
        },
        Inbound::SetLeverage(m) => Command::SetLeverage {
            account: own_account(role, m.account)?,
            market: market_of(registry, &m.symbol)?,
            leverage: m.leverage,
        },
        Inbound::SetMarginMode(m) => Command::SetMarginMode {
            account: own_account(role, m.account)?,
            market: market_of(registry, &m.symbol)?,
            mode: match m.mode {
                margin_mode::CROSS => MarginMode::Cross,
                margin_mode::ISOLATED => MarginMode::Isolated,
                _ => return Err(MapReject::MarginModeInvalid),
            },
        },
        Inbound::TransferIsolatedMargin(m) => Command::TransferIsolatedMargin {
            account: own_account(role, m.account)?,
            market: market_of(registry, &m.symbol)?,
            amount: Quote(m.amount),
        },
        Inbound::SetIndexPrice(m) => {
            operator(role)?;
            Command::SetIndexPrice {
                market: market_of(registry, &m.symbol)?,
                index: Price(m.index),
                external_mark: (m.external_mark != 0).then_some(Price(m.external_mark)),
            }
        }
        Inbound::FundingTick(m) => {
            operator(role)?;
            Command::FundingTick {
                market: market_of(registry, &m.symbol)?,
            }
        }
        Inbound::SetBackstop(m) => {
            operator(role)?;
            Command::SetBackstopAccount {
                account: (m.account != ACCOUNT_NONE).then_some(AccountId(m.account)),
            }
        }
        Inbound::InsuranceDeposit(m) => {
            operator(role)?;
            Command::InsuranceDeposit {
                amount: Quote(m.amount),
            }
        }
        // Served by the server itself (see `server_request`), never sequenced.
        Inbound::Snapshot(_) => {
            operator(role)?;
            return Err(MapReject::NotACommand);
        }
    })
}

/// A native request the server serves itself rather than sequencing a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerRequest {
    /// `s`: write a snapshot of the engine now.
    Snapshot,
}

/// The server request `msg` is, if it is one: `Some(Err(NotAuthorized))` when the session's
/// role may not make it; `None` for requests that map to engine commands
/// ([`native_command`]).
#[must_use]
pub fn server_request(msg: &Inbound, role: Role) -> Option<Result<ServerRequest, MapReject>> {
    match msg {
        Inbound::Snapshot(_) => Some(operator(role).map(|()| ServerRequest::Snapshot)),
        _ => None,
    }
}

/// The Request Rejected answering `msg` with `reason` (a [`MapReject`] or engine code).
#[must_use]
pub fn native_reject(msg: &Inbound, reason: u16, ts_ns: u64) -> Outbound {
    let origin = NativeOrigin::of(msg);
    Outbound::RequestRejected(RequestRejected {
        timestamp: ts_ns,
        request_ref: origin.request_ref,
        account: origin.account,
        reason,
    })
}

/// The Instrument (`I`) message of a market.
#[must_use]
pub fn instrument(spec: &MarketSpec, ts_ns: u64) -> Outbound {
    Outbound::Instrument(Instrument {
        timestamp: ts_ns,
        symbol: spec.symbol,
        market_id: spec.id.0,
        tick_mantissa: spec.tick.mantissa,
        tick_scale: spec.tick.scale,
        lot_mantissa: spec.lot.mantissa,
        lot_scale: spec.lot.scale,
        quote_per_tick_lot: spec.quote_per_tick_lot,
        notional_min: spec.notional_min.0,
        price_max: spec.price_max.0,
        qty_max: spec.qty_max.0,
    })
}

/// Turns one command's events into native messages with their audiences, in order; then, when
/// the command came from a native request, its Request Done or Request Rejected.
pub fn native_events(
    batch: &Batch<'_>,
    registry: &MarketRegistry,
    origin: Option<NativeOrigin>,
    out: &mut impl FnMut(Audience, Outbound),
) {
    let ts = batch.ts_ns;
    let symbol = |market: MarketId| registry.get(market).map_or([b' '; 8], |s| s.symbol);
    let mut rejected: Option<u16> = None;
    for event in batch.events {
        match *event {
            Event::MarketAdded { market } => {
                if let Some(spec) = registry.get(market) {
                    out(Audience::Public, instrument(spec, ts));
                }
            }
            Event::Rejected { reason, .. } => {
                rejected.get_or_insert(reason.code());
            }
            Event::Deposited {
                account,
                amount,
                collateral,
            }
            | Event::Withdrawn {
                account,
                amount,
                collateral,
            } => {
                let kind = if matches!(event, Event::Deposited { .. }) {
                    collateral_kind::DEPOSIT
                } else {
                    collateral_kind::WITHDRAWAL
                };
                out(
                    Audience::Account(account),
                    Outbound::Collateral(Collateral {
                        timestamp: ts,
                        account: account.0,
                        kind,
                        amount: amount.0,
                        collateral: collateral.0,
                    }),
                );
            }
            Event::LeverageSet {
                account,
                market,
                leverage,
            } => out(
                Audience::Account(account),
                Outbound::LeverageSet(LeverageSet {
                    timestamp: ts,
                    account: account.0,
                    symbol: symbol(market),
                    leverage,
                }),
            ),
            Event::MarginModeSet {
                account,
                market,
                mode,
            } => out(
                Audience::Account(account),
                Outbound::MarginModeSet(MarginModeSet {
                    timestamp: ts,
                    account: account.0,
                    symbol: symbol(market),
                    mode: match mode {
                        MarginMode::Cross => margin_mode::CROSS,
                        MarginMode::Isolated => margin_mode::ISOLATED,
                    },
                }),
            ),
            Event::IsolatedMarginSet {
                account,
                market,
                isolated_margin,
                collateral,
            } => out(
                Audience::Account(account),
                Outbound::IsolatedMarginSet(IsolatedMarginSet {
                    timestamp: ts,
                    account: account.0,
                    symbol: symbol(market),
                    isolated_margin: isolated_margin.0,
                    collateral: collateral.0,
                }),
            ),
            Event::MarkPrice {
                market,
                index,
                mark,
            } => out(
                Audience::Public,
                Outbound::MarkPrice(MarkPrice {
                    timestamp: ts,
                    symbol: symbol(market),
                    index: index.0,
                    mark: mark.0,
                }),
            ),
            Event::Funding {
                market,
                rate_ppb,
                paid,
                received,
                dust,
            } => out(
                Audience::Public,
                Outbound::Funding(Funding {
                    timestamp: ts,
                    symbol: symbol(market),
                    rate_ppb,
                    paid: paid.0,
                    received: received.0,
                    dust: dust.0,
                }),
            ),
            Event::InsuranceFund {
                account,
                delta,
                balance,
                reason,
            } => out(
                Audience::Public,
                Outbound::InsuranceFund(InsuranceFund {
                    timestamp: ts,
                    account: account.0,
                    delta: delta.0,
                    balance: balance.0,
                    reason: reason as u8,
                }),
            ),
            Event::BackstopSet { account } => out(
                Audience::Public,
                Outbound::BackstopSet(BackstopSet {
                    timestamp: ts,
                    vault: account.map_or(ACCOUNT_NONE, |a| a.0),
                }),
            ),
            Event::LiquidationStarted {
                account,
                market,
                equity,
                maintenance,
                mark,
            } => {
                let msg = Outbound::LiquidationStarted(LiquidationStarted {
                    timestamp: ts,
                    account: account.0,
                    symbol: symbol(market),
                    equity: equity.0,
                    maintenance: maintenance.0,
                    mark: mark.0,
                });
                out(Audience::Account(account), msg);
                out(Audience::Public, msg);
            }
            Event::LiquidationEnded {
                account,
                market,
                stage,
                outcome,
                closed,
                equity,
                haircut,
                haircut_min,
            } => {
                let msg = Outbound::LiquidationEnded(LiquidationEnded {
                    timestamp: ts,
                    account: account.0,
                    symbol: symbol(market),
                    stage,
                    outcome,
                    closed: closed.0,
                    equity: equity.0,
                    haircut: haircut.0,
                    haircut_min: haircut_min.0,
                });
                out(Audience::Account(account), msg);
                out(Audience::Public, msg);
            }
            Event::Backstop {
                account,
                vault,
                market,
                size,
                price,
            } => {
                let msg = Outbound::Backstop(Backstop {
                    timestamp: ts,
                    account: account.0,
                    vault: vault.0,
                    symbol: symbol(market),
                    size,
                    price: price.0,
                });
                out(Audience::Account(account), msg);
                out(Audience::Account(vault), msg);
                out(Audience::Public, msg);
            }
            Event::Deleveraged {
                account,
                counterparty,
                market,
                qty,
                price,
                rank,
            } => {
                let msg = Outbound::Deleveraged(Deleveraged {
                    timestamp: ts,
                    account: account.0,
                    counterparty: counterparty.0,
                    symbol: symbol(market),
                    qty: qty.0,
                    price: price.0,
                    rank,
                });
                out(Audience::Account(account), msg);
                out(Audience::Account(counterparty), msg);
                out(Audience::Public, msg);
            }
            _ => {}
        }
    }
    if let Some(origin) = origin {
        let answer = match rejected {
            Some(reason) => Outbound::RequestRejected(RequestRejected {
                timestamp: ts,
                request_ref: origin.request_ref,
                account: origin.account,
                reason,
            }),
            None => Outbound::RequestDone(RequestDone {
                timestamp: ts,
                request_ref: origin.request_ref,
                account: origin.account,
            }),
        };
        out(Audience::Requester, answer);
    }
}
