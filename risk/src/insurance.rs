//! The insurance fund as a value type, and the split of a liquidation's proceeds.
//!
//! # Invariants
//! The balance is never negative: [`InsuranceFund::pay`] covers at most what the fund holds and
//! reports the amount it covered; the shortfall is the caller's next waterfall stage (ADL).
//!
//! # Liquidation proceeds (dYdX v4)
//! When a position is closed, `delta = close_quote − bankruptcy_quote` is what the close made
//! beyond the bankruptcy price. A positive delta pays the liquidation fee to the fund, at most
//! `fee_max·|close_quote|`, and the rest goes back to the account; a negative delta is a loss
//! the fund pays ([`liquidation_proceeds`]).

use crate::error::{checked, to_i64, RiskError};
use crate::num::{div_round, Ppm, Quote, Rounding};

/// An insurance fund balance in quote quantums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct InsuranceFund {
    balance: Quote,
}

impl InsuranceFund {
    /// An empty fund.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            balance: Quote::ZERO,
        }
    }

    /// A fund holding `balance`.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `balance` is negative.
    pub fn with_balance(balance: Quote) -> Result<Self, RiskError> {
        if balance.get() < 0 {
            return Err(RiskError::InvalidInput(
                "insurance balance must not be negative",
            ));
        }
        Ok(Self { balance })
    }

    /// The balance.
    #[must_use]
    pub const fn balance(&self) -> Quote {
        self.balance
    }

    /// Adds `amount` (fees, liquidation surplus, funding dust).
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `amount` is negative; [`RiskError::Overflow`] when the
    /// balance would not fit. The fund is unchanged on error.
    pub fn deposit(&mut self, amount: Quote) -> Result<(), RiskError> {
        if amount.get() < 0 {
            return Err(RiskError::InvalidInput("deposit must not be negative"));
        }
        self.balance = checked(self.balance.checked_add(amount))?;
        Ok(())
    }

    /// Pays up to `amount` and returns what it covered: `min(amount, balance)`. The balance
    /// never goes below zero; `amount − covered` is left for the next stage.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `amount` is negative. The fund is unchanged on error.
    pub fn pay(&mut self, amount: Quote) -> Result<Quote, RiskError> {
        if amount.get() < 0 {
            return Err(RiskError::InvalidInput("payment must not be negative"));
        }
        let covered = amount.min(self.balance);
        self.balance = Quote(self.balance.get() - covered.get());
        assert!(
            self.balance.get() >= 0,
            "invariant: the fund never goes negative"
        );
        assert!(covered <= amount, "invariant: never pays more than asked");
        Ok(covered)
    }
}

/// How a liquidation close splits between the account and the insurance fund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationProceeds {
    /// Signed change to the fund: the fee when positive, a loss it must cover when negative.
    pub fund_delta: Quote,
    /// Returned to the account (≥ 0): the surplus beyond bankruptcy after the fee.
    pub account_credit: Quote,
}

/// Splits a liquidation close (dYdX v4 `GetLiquidationInsuranceFundDelta`).
///
/// `close_quote` and `bankruptcy_quote` are the quote the account receives for the close at the
/// fill price and at the bankruptcy price (negative when it pays, for a short buying back).
/// With `delta = close_quote − bankruptcy_quote`: if `delta > 0`, the fund takes
/// `min(fee_max·|close_quote|, delta)` and the account the rest; otherwise the fund pays
/// `−delta`.
///
/// # Rounding
/// The fee rounds up (a charge to the account), then is capped at the surplus.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `fee_max` is outside `0..=100%`; [`RiskError::Overflow`]
/// when `delta` does not fit.
pub fn liquidation_proceeds(
    close_quote: Quote,
    bankruptcy_quote: Quote,
    fee_max: Ppm,
) -> Result<LiquidationProceeds, RiskError> {
    if !(0..=Ppm::ONE).contains(&i64::from(fee_max.get())) {
        return Err(RiskError::InvalidInput("fee_max must be in [0, 100%]"));
    }
    let delta = checked(close_quote.checked_sub(bankruptcy_quote))?;
    if delta.get() <= 0 {
        return Ok(LiquidationProceeds {
            fund_delta: delta,
            account_credit: Quote::ZERO,
        });
    }
    let fee = checked(div_round(
        i128::from(close_quote.get()).abs() * i128::from(fee_max.get()),
        i128::from(Ppm::ONE),
        Rounding::Ceil,
    ))?;
    let fee = Quote(to_i64(fee)?).min(delta);
    let account_credit = Quote(delta.get() - fee.get());
    assert!(
        account_credit.get() >= 0,
        "invariant: the fee is capped at the surplus"
    );
    Ok(LiquidationProceeds {
        fund_delta: fee,
        account_credit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pay_covers_at_most_the_balance() {
        let mut fund = InsuranceFund::with_balance(Quote(100)).expect("valid");
        assert_eq!(fund.pay(Quote(30)), Ok(Quote(30)));
        assert_eq!(fund.balance(), Quote(70));
        assert_eq!(fund.pay(Quote(500)), Ok(Quote(70)));
        assert_eq!(fund.balance(), Quote(0));
        assert_eq!(fund.pay(Quote(1)), Ok(Quote(0)));
        fund.deposit(Quote(5)).expect("valid");
        assert_eq!(fund.balance(), Quote(5));
        assert!(fund.pay(Quote(-1)).is_err());
        assert!(fund.deposit(Quote(-1)).is_err());
        assert!(InsuranceFund::with_balance(Quote(-1)).is_err());
        let mut full = InsuranceFund::with_balance(Quote(i64::MAX)).expect("valid");
        assert_eq!(full.deposit(Quote(1)), Err(RiskError::Overflow));
        assert_eq!(full.balance(), Quote(i64::MAX));
        assert_eq!(InsuranceFund::new().balance(), Quote::ZERO);
    }

    /// RISK-REFERENCE §3 example 16 (dYdX v4 `TestGetLiquidationInsuranceFundDelta`): 0.1 BTC
    /// long with USDC −5,100 (bankruptcy quote 5,100) filled at 56,100 (quote 5,610): max fee
    /// 0.5% → 28.05 USDC to the fund; at 2.5% → 140.25.
    #[test]
    fn dydx_insurance_fund_delta_example() {
        let usdc = 1_000_000;
        let close = Quote(5_610 * usdc);
        let bankruptcy = Quote(5_100 * usdc);
        let split = liquidation_proceeds(close, bankruptcy, Ppm(5_000)).expect("valid");
        assert_eq!(split.fund_delta, Quote(28_050_000));
        assert_eq!(split.account_credit, Quote(510 * usdc - 28_050_000));
        let split = liquidation_proceeds(close, bankruptcy, Ppm(25_000)).expect("valid");
        assert_eq!(split.fund_delta, Quote(140_250_000));
        // Filled below bankruptcy: the fund pays the difference.
        let split = liquidation_proceeds(Quote(5_000 * usdc), bankruptcy, Ppm(5_000));
        assert_eq!(
            split,
            Ok(LiquidationProceeds {
                fund_delta: Quote(-100 * usdc),
                account_credit: Quote::ZERO
            })
        );
        assert!(liquidation_proceeds(close, bankruptcy, Ppm(-1)).is_err());
    }

    proptest! {
        #[test]
        fn proceeds_conserve_the_surplus(
            close in -1_000_000_000_000i64..1_000_000_000_000,
            bankruptcy in -1_000_000_000_000i64..1_000_000_000_000,
            fee in 0i32..=1_000_000
        ) {
            let split = liquidation_proceeds(Quote(close), Quote(bankruptcy), Ppm(fee))
                .expect("valid");
            prop_assert_eq!(
                split.fund_delta.get() + split.account_credit.get(),
                close - bankruptcy
            );
            prop_assert!(split.account_credit.get() >= 0);
        }

        #[test]
        fn fund_never_goes_negative(
            start in 0i64..1_000_000, ops in prop::collection::vec((any::<bool>(), 0i64..1_000_000), 0..50)
        ) {
            let mut fund = InsuranceFund::with_balance(Quote(start)).expect("valid");
            let mut expected = i128::from(start);
            for (deposit, amount) in ops {
                if deposit {
                    fund.deposit(Quote(amount)).expect("fits");
                    expected += i128::from(amount);
                } else {
                    let covered = fund.pay(Quote(amount)).expect("valid");
                    prop_assert_eq!(i128::from(covered.get()), i128::from(amount).min(expected));
                    expected -= i128::from(covered.get());
                }
                prop_assert_eq!(i128::from(fund.balance().get()), expected);
                prop_assert!(expected >= 0);
            }
        }
    }
}
